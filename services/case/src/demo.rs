//! A small demo data set for `docket dev`: a few accounts, contacts, staff
//! and teams, and cases in every status with some activities. Written
//! through the store, so it has its audit trail like any other data.

use crate::{
    domain::{
        AccountId, AccountTier, ActivityKind, CaseId, CaseStatus, Channel, ContactId, Direction, Priority, StaffId, StaffRole,
        TeamId, Visibility,
        commands::{
            AccountFields, Address, CaseContactRef, CaseFields, ContactFields, Money, NewActivity, NewCase, StaffFields,
            TeamFields,
        },
    },
    error::Result,
    store::{Actor, ReadFirst, Store},
};
use docket_kit::mutation::Once;
use docket_kit::request::RecordId;

/// Emails of the demo staff, so `docket dev` can find them again for its tokens.
pub const ADMIN_EMAIL: &str = "ada.admin@docket.example";
pub const AGENT_EMAIL: &str = "alex.agent@docket.example";
pub const VIEWER_EMAIL: &str = "vera.viewer@docket.example";

/// Seeds the demo data unless there are accounts already. Returns whether it seeded.
pub async fn seed(store: &Store) -> Result<bool> {
    let (existing, _) = store.list_accounts(&Default::default(), None, 1).await?;
    if !existing.is_empty() {
        return Ok(false);
    }
    let by = Actor { actor: "system:demo", reason: "demo data for docket dev", at: docket_kit::time::now() };

    let staff = |name: &str, email: &str, role| StaffFields {
        name: name.to_owned(),
        email: email.to_owned(),
        role,
        active: true,
        available: true,
        case_capacity: 0,
        out_of_office: Vec::new(),
    };
    let ada = store.create_staff_user(staff("Ada Admin", ADMIN_EMAIL, StaffRole::Admin), &by, Once::default()).await?;
    let alex = store.create_staff_user(staff("Alex Agent", AGENT_EMAIL, StaffRole::Agent), &by, Once::default()).await?;
    let sam = store
        .create_staff_user(staff("Sam Support", "sam.support@docket.example", StaffRole::Agent), &by, Once::default())
        .await?;
    store.create_staff_user(staff("Vera Viewer", VIEWER_EMAIL, StaffRole::Viewer), &by, Once::default()).await?;

    let support = store
        .create_team(
            TeamFields { name: "Support".into(), description: "First-line support queue".into(), ..TeamFields::default() },
            &by,
            Once::default(),
        )
        .await?;
    let field = store
        .create_team(
            TeamFields {
                name: "Field Service".into(),
                description: "On-site repairs and warranty work".into(),
                ..TeamFields::default()
            },
            &by,
            Once::default(),
        )
        .await?;
    for member in [&alex.id, &sam.id] {
        store.set_team_member(TeamId::stored(&support.team.id)?, StaffId::stored(member)?, true, &by).await?;
    }
    store.set_team_member(TeamId::stored(&field.team.id)?, StaffId::stored(&sam.id)?, true, &by).await?;

    let account = |name: &str, industry: &str, tier, value: i64, city: &str| AccountFields {
        name: name.to_owned(),
        industry: industry.to_owned(),
        tier,
        annual_value: Some(Money { amount_minor: value, currency: "EUR".into() }),
        address: Address { city: city.to_owned(), country: "DE".into(), ..Default::default() },
        notes: String::new(),
    };
    let acme = store
        .create_account(
            account("Acme Manufacturing", "Manufacturing", AccountTier::Enterprise, 400_000_000, "Hamburg"),
            &by,
            Once::default(),
        )
        .await?;
    let bright = store
        .create_account(account("Bright Dental", "Healthcare", AccountTier::Premium, 85_000_000, "Munich"), &by, Once::default())
        .await?;
    let town = store
        .create_account(
            account("Town of Lindenau", "Public sector", AccountTier::Standard, 12_000_000, "Lindenau"),
            &by,
            Once::default(),
        )
        .await?;

    let contact = |account_id: AccountId, name: &str, email: &str, title: &str| ContactFields {
        account_id,
        name: name.to_owned(),
        email: email.to_owned(),
        phone: "+49 40 1234567".to_owned(),
        title: title.to_owned(),
        portal_enabled: true,
    };
    let petra = store
        .create_contact(
            contact(AccountId::stored(&acme.id)?, "Petra Schmidt", "petra.schmidt@acme.example", "Plant manager"),
            &by,
            Once::default(),
        )
        .await?;
    let jonas = store
        .create_contact(
            contact(AccountId::stored(&acme.id)?, "Jonas Weber", "jonas.weber@acme.example", "IT lead"),
            &by,
            Once::default(),
        )
        .await?;
    let lena = store
        .create_contact(
            contact(AccountId::stored(&bright.id)?, "Dr. Lena Vogel", "lena.vogel@brightdental.example", "Practice owner"),
            &by,
            Once::default(),
        )
        .await?;
    let tom = store
        .create_contact(
            contact(AccountId::stored(&town.id)?, "Tom Becker", "tom.becker@lindenau.example", "Facilities"),
            &by,
            Once::default(),
        )
        .await?;

    struct Demo<'a> {
        subject: &'a str,
        type_id: &'a str,
        priority: Priority,
        channel: Channel,
        account: &'a str,
        contact: &'a str,
        owner: Option<&'a str>,
        team: &'a str,
        serial: &'a str,
        end: CaseStatus,
    }
    let demos = [
        Demo {
            subject: "Conveyor controller reboots every hour",
            type_id: "technical_issue",
            priority: Priority::Critical,
            channel: Channel::Phone,
            account: &acme.id,
            contact: &petra.id,
            owner: None,
            team: &support.team.id,
            serial: "CV-2291-A",
            end: CaseStatus::New,
        },
        Demo {
            subject: "Invoice 2026-114 charged twice",
            type_id: "billing_query",
            priority: Priority::Medium,
            channel: Channel::Email,
            account: &acme.id,
            contact: &jonas.id,
            owner: Some(&alex.id),
            team: &support.team.id,
            serial: "",
            end: CaseStatus::Assigned,
        },
        Demo {
            subject: "X-ray sensor shows dead pixels",
            type_id: "warranty_claim",
            priority: Priority::High,
            channel: Channel::Portal,
            account: &bright.id,
            contact: &lena.id,
            owner: Some(&sam.id),
            team: &field.team.id,
            serial: "XR-7781-Q",
            end: CaseStatus::Pending,
        },
        Demo {
            subject: "Streetlight timer reset after power cut",
            type_id: "service_request",
            priority: Priority::Low,
            channel: Channel::WebForm,
            account: &town.id,
            contact: &tom.id,
            owner: Some(&sam.id),
            team: &field.team.id,
            serial: "SL-0042",
            end: CaseStatus::ClosedComplete,
        },
        Demo {
            subject: "Technician arrived late",
            type_id: "complaint",
            priority: Priority::Medium,
            channel: Channel::Phone,
            account: &bright.id,
            contact: &lena.id,
            owner: Some(&alex.id),
            team: &support.team.id,
            serial: "",
            end: CaseStatus::ClosedNoFault,
        },
    ];
    for demo in demos {
        let fields = CaseFields {
            subject: demo.subject.to_owned(),
            description: format!("{} (demo case)", demo.subject),
            type_id: demo.type_id.to_owned(),
            priority: demo.priority,
            channel: demo.channel,
            account_id: AccountId::stored(demo.account)?,
            contacts: vec![CaseContactRef { contact_id: ContactId::stored(demo.contact)?, primary: true }],
            team_id: Some(TeamId::stored(demo.team)?),
            service_contract_id: String::new(),
            service_contract_number: String::new(),
            asset_description: if demo.serial.is_empty() { String::new() } else { "Customer equipment".to_owned() },
            asset_serial_number: demo.serial.to_owned(),
            tags: vec!["demo".to_owned()],
        };
        let owner_id = demo.owner.map(StaffId::stored).transpose()?;
        let case = store
            .create_case(
                NewCase { fields, owner_id, web_form_id: None, sender: None },
                ReadFirst::default(),
                &by,
                Once::default(),
            )
            .await?;
        let id = CaseId::stored(&case.case.id)?;
        let note = |body: &str, visibility| NewActivity {
            case_id: id,
            kind: ActivityKind::Note,
            visibility,
            body: body.to_owned(),
            direction: Direction::None,
            call_duration_seconds: 0,
            email_from: String::new(),
            email_to: Vec::new(),
            email_subject: String::new(),
        };
        store
            .add_activity(
                note("Checked the customer's history: first report of this kind.", Visibility::Internal),
                true,
                &by,
                None,
            )
            .await?;
        if demo.owner.is_some() {
            store
                .add_activity(
                    note("Thanks for reporting this. We are on it and will update you here.", Visibility::Public),
                    true,
                    &by,
                    None,
                )
                .await?;
        }
        match demo.end {
            CaseStatus::Pending => {
                store.set_case_status(id, None, CaseStatus::Pending, &by).await?;
            }
            CaseStatus::ClosedComplete | CaseStatus::ClosedNoFault => {
                store.close_case(id, None, demo.end, "Resolved on site; customer confirmed.", &by).await?;
            }
            CaseStatus::New | CaseStatus::Assigned => {}
        }
    }
    let breach_rule = crate::store::escalation::RuleFields {
        rule: crate::domain::escalation::Rule {
            id: String::new(),
            name: "Breached resolution goes to Field Service".into(),
            trigger: crate::domain::escalation::Trigger::SlaBreached,
            target: Some(crate::domain::escalation::Target::Resolution),
            priorities: Vec::new(),
            raise_priority: true,
            reassign_team_id: Some(field.team.id.clone()),
            reassign_owner_id: None,
            notify_owner: true,
            notify_staff_ids: vec![ada.id.clone()],
        },
        active: true,
        position: 0,
    };
    store.create_escalation_rule(breach_rule, &by, Once::default()).await?;
    Ok(true)
}
