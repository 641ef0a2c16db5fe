//! Billing a case: its unbilled billable hours and parts become an invoice,
//! or a debit of a prepaid sub-contract. Whatever is billed is marked in the
//! same transaction, with a conditional update that fails if anything was
//! billed meanwhile, so nothing is ever billed twice.

use docket_kit::{
    audit::{Actor, Changes},
    idempotency::Idempotency,
    mutation::{Edit, Once},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, LockType},
};

use super::{IdCursor, Store, contracts::post, new_id};
use crate::{
    domain::{
        invoice::{self as rules, BookedHours, InvoiceDraft, InvoiceError, InvoiceStatus, ServicePart},
        money::{Currency, Money},
    },
    error::{Error, Result},
    events,
    records::{
        InvoiceRecord,
        entities::{booked_hours, invoice, invoice_line, ledger_entry, service_part, sub_contract},
    },
};
use docket_kit::page;

/// What a case is billed under: its contract's currency and tax, or the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingTerms {
    pub account_id: String,
    pub contract_id: Option<String>,
    pub currency: Currency,
    pub tax_rate_bp: i64,
}

#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub case_id: Option<String>,
    pub account_id: Option<String>,
    pub statuses: Vec<InvoiceStatus>,
}

/// The unbilled billable work of a case, priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseCosts {
    pub draft: Option<InvoiceDraft>,
    pub billable_minutes: i64,
    pub hours: Vec<booked_hours::Model>,
    pub parts: Vec<service_part::Model>,
}

/// A debit and what it paid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debit {
    pub entry: ledger_entry::Model,
    pub hours: Vec<booked_hours::Model>,
    pub parts: Vec<service_part::Model>,
    pub draft: Option<InvoiceDraft>,
}

pub fn format_invoice_number(n: i64) -> String {
    format!("INV-{n:06}")
}

fn money(minor: i64, code: &str, fallback: Currency) -> Money {
    Money::new(minor, Currency::parse(code).unwrap_or(fallback))
}

/// Prices hours and parts by the domain's one rounding rule.
pub fn price(terms: &BillingTerms, hours: &[booked_hours::Model], parts: &[service_part::Model]) -> Result<Option<InvoiceDraft>> {
    let hours: Vec<BookedHours> = hours
        .iter()
        .map(|h| BookedHours {
            id: h.id.clone(),
            description: if h.description.is_empty() { format!("Work on {}", h.work_date) } else { h.description.clone() },
            minutes: i64::from(h.minutes),
            rate_per_hour: money(h.rate_minor, &h.currency, terms.currency),
            billable: h.billable,
        })
        .collect();
    let parts: Vec<ServicePart> = parts
        .iter()
        .map(|p| ServicePart {
            id: p.id.clone(),
            part_number: p.part_number.clone(),
            description: p.description.clone(),
            quantity_milli: p.quantity_milli,
            unit_price: money(p.unit_price_minor, &p.currency, terms.currency),
            billable: p.billable,
        })
        .collect();
    match rules::draft(terms.currency, &hours, &parts, terms.tax_rate_bp) {
        Ok(draft) => Ok(Some(draft)),
        Err(InvoiceError::NothingToBill) => Ok(None),
        Err(err) => Err(Error::Precondition(format!("the case cannot be billed: {err}"))),
    }
}

/// The case's billable work that nothing has billed yet; locked on
/// PostgreSQL until the transaction ends.
async fn unbilled(db: &impl ConnectionTrait, case_id: &str) -> Result<(Vec<booked_hours::Model>, Vec<service_part::Model>)> {
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let mut hours = booked_hours::Entity::find()
        .filter(booked_hours::Column::CaseId.eq(case_id))
        .filter(booked_hours::Column::Billable.eq(true))
        .filter(booked_hours::Column::InvoiceId.is_null())
        .filter(booked_hours::Column::LedgerEntryId.is_null())
        .order_by_asc(booked_hours::Column::Id);
    let mut parts = service_part::Entity::find()
        .filter(service_part::Column::CaseId.eq(case_id))
        .filter(service_part::Column::Billable.eq(true))
        .filter(service_part::Column::InvoiceId.is_null())
        .filter(service_part::Column::LedgerEntryId.is_null())
        .order_by_asc(service_part::Column::Id);
    if postgres {
        hours = hours.lock(LockType::Update);
        parts = parts.lock(LockType::Update);
    }
    Ok((hours.all(db).await?, parts.all(db).await?))
}

/// Marks hours and parts billed by an invoice or a ledger entry; fails if
/// any of them was billed meanwhile.
/// Gives a voided invoice's hours and parts back to be billed again.
async fn unbill(txn: &DatabaseTransaction, invoice_id: &str) -> Result<()> {
    booked_hours::Entity::update_many()
        .col_expr(booked_hours::Column::InvoiceId, Expr::value(Option::<String>::None))
        .filter(booked_hours::Column::InvoiceId.eq(invoice_id))
        .exec(txn)
        .await?;
    service_part::Entity::update_many()
        .col_expr(service_part::Column::InvoiceId, Expr::value(Option::<String>::None))
        .filter(service_part::Column::InvoiceId.eq(invoice_id))
        .exec(txn)
        .await?;
    Ok(())
}

async fn mark_billed(
    txn: &DatabaseTransaction,
    hours: &[booked_hours::Model],
    parts: &[service_part::Model],
    invoice_id: Option<&str>,
    ledger_entry_id: Option<&str>,
) -> Result<()> {
    if !hours.is_empty() {
        let marked = booked_hours::Entity::update_many()
            .col_expr(booked_hours::Column::InvoiceId, Expr::value(invoice_id.map(str::to_owned)))
            .col_expr(booked_hours::Column::LedgerEntryId, Expr::value(ledger_entry_id.map(str::to_owned)))
            .filter(booked_hours::Column::Id.is_in(hours.iter().map(|h| h.id.clone())))
            .filter(booked_hours::Column::InvoiceId.is_null())
            .filter(booked_hours::Column::LedgerEntryId.is_null())
            .exec(txn)
            .await?;
        if marked.rows_affected != hours.len() as u64 {
            return Err(Error::Stale("some of the case's hours were billed meanwhile; nothing was billed".into()));
        }
    }
    if !parts.is_empty() {
        let marked = service_part::Entity::update_many()
            .col_expr(service_part::Column::InvoiceId, Expr::value(invoice_id.map(str::to_owned)))
            .col_expr(service_part::Column::LedgerEntryId, Expr::value(ledger_entry_id.map(str::to_owned)))
            .filter(service_part::Column::Id.is_in(parts.iter().map(|p| p.id.clone())))
            .filter(service_part::Column::InvoiceId.is_null())
            .filter(service_part::Column::LedgerEntryId.is_null())
            .exec(txn)
            .await?;
        if marked.rows_affected != parts.len() as u64 {
            return Err(Error::Stale("some of the case's parts were billed meanwhile; nothing was billed".into()));
        }
    }
    Ok(())
}

async fn load_invoice(db: &impl ConnectionTrait, id: &str) -> Result<InvoiceRecord> {
    let invoice = invoice::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("invoice {id} not found")))?;
    let lines = invoice_line::Entity::find()
        .filter(invoice_line::Column::InvoiceId.eq(id))
        .order_by_asc(invoice_line::Column::Position)
        .all(db)
        .await?;
    Ok(InvoiceRecord { invoice, lines })
}

impl Store {
    /// What billing the case would come to now. Writes nothing.
    pub async fn case_costs(&self, case_id: &str, terms: &BillingTerms) -> Result<CaseCosts> {
        let (hours, parts) = unbilled(&self.db, case_id).await?;
        let draft = price(terms, &hours, &parts)?;
        let billable_minutes = hours.iter().map(|h| i64::from(h.minutes)).sum();
        Ok(CaseCosts { draft, billable_minutes, hours, parts })
    }

    /// A draft invoice of the case's unbilled billable hours and parts.
    pub async fn invoice_case(
        &self,
        case_id: &str,
        terms: &BillingTerms,
        by: &Actor<'_>,
        key: Option<&Idempotency>,
    ) -> Result<InvoiceRecord> {
        self.mutations
            .run_once(
                by,
                Once { scope: "InvoiceCase", key },
                async |tx| {
                    let (hours, parts) = unbilled(&*tx, case_id).await?;
                    let Some(draft) = price(terms, &hours, &parts)? else {
                        return Err(Error::Precondition(
                            "nothing to bill: the case has no unbilled billable hours or parts".into(),
                        ));
                    };
                    let record = InvoiceRecord {
                        invoice: invoice::Model {
                            id: new_id(),
                            invoice_number: None,
                            case_id: case_id.to_owned(),
                            account_id: terms.account_id.clone(),
                            contract_id: terms.contract_id.clone(),
                            status: InvoiceStatus::Draft.key().to_owned(),
                            currency: terms.currency.code().to_owned(),
                            net_minor: draft.net.minor,
                            tax_rate_bp: i32::try_from(draft.tax_rate_bp).unwrap_or(0),
                            tax_minor: draft.tax.minor,
                            gross_minor: draft.gross.minor,
                            created_at: by.at,
                            issued_at: None,
                            paid_at: None,
                            voided_at: None,
                            version: 1,
                        },
                        lines: draft
                            .lines
                            .iter()
                            .enumerate()
                            .map(|(i, line)| invoice_line::Model {
                                invoice_id: String::new(),
                                position: i32::try_from(i).unwrap_or(i32::MAX),
                                source: line.source.key().to_owned(),
                                source_id: line.source_id.clone(),
                                description: line.description.clone(),
                                amount_minor: line.amount.minor,
                            })
                            .collect(),
                    };
                    let id = record.invoice.id.clone();
                    record.invoice.clone().into_active_model().reset_all().insert(&*tx).await?;
                    let lines: Vec<invoice_line::Model> =
                        record.lines.iter().map(|l| invoice_line::Model { invoice_id: id.clone(), ..l.clone() }).collect();
                    invoice_line::Entity::insert_many(lines.iter().map(|l| l.clone().into_active_model())).exec(&*tx).await?;
                    mark_billed(&tx, &hours, &parts, Some(&id), None).await?;
                    let record = InvoiceRecord { lines, ..record };
                    let mut changes = Changes::new();
                    changes.set("created", "", format!("draft for case {case_id}: {} {}", draft.gross.minor, terms.currency));
                    tx.record("invoice", &id, &changes, [events::invoice_changed("invoice.created", &record, by.reason)]).await?;
                    Ok(record)
                },
                |record| &record.invoice.id,
                |id| async move { self.get_invoice(&id).await },
            )
            .await
    }

    pub async fn get_invoice(&self, id: &str) -> Result<InvoiceRecord> {
        load_invoice(&self.db, id).await
    }

    pub async fn list_invoices(
        &self,
        filter: &InvoiceFilter,
        after: Option<IdCursor>,
        limit: u64,
    ) -> Result<(Vec<InvoiceRecord>, Option<IdCursor>)> {
        let mut query = invoice::Entity::find();
        if let Some(case) = &filter.case_id {
            query = query.filter(invoice::Column::CaseId.eq(case));
        }
        if let Some(account) = &filter.account_id {
            query = query.filter(invoice::Column::AccountId.eq(account));
        }
        if !filter.statuses.is_empty() {
            query = query.filter(invoice::Column::Status.is_in(filter.statuses.iter().map(|s| s.key())));
        }
        let (rows, next) = page::by_id(&self.db, query, invoice::Column::Id, after, limit, |row| &row.id).await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(load_invoice(&self.db, &row.id).await?);
        }
        Ok((records, next))
    }

    /// Issues (numbering it), marks paid, or voids an invoice; voiding gives
    /// its hours and parts back to be billed again.
    pub async fn set_invoice_status(
        &self,
        id: &str,
        etag: Option<i64>,
        to: InvoiceStatus,
        by: &Actor<'_>,
    ) -> Result<InvoiceRecord> {
        self.mutations
            .run(by, async |tx| {
                let current = load_invoice(&*tx, id).await?;
                if let Some(etag) = etag
                    && etag != current.invoice.version
                {
                    return Err(Error::stale("invoice", id, etag, current.invoice.version));
                }
                let from = InvoiceStatus::from_key(&current.invoice.status).unwrap_or(InvoiceStatus::Draft);
                if !from.allowed_moves().contains(&to) {
                    let allowed = from.allowed_moves().iter().map(|s| s.key()).collect::<Vec<_>>();
                    return Err(Error::Precondition(format!(
                        "a {} invoice cannot become {}; allowed: {}",
                        from.key(),
                        to.key(),
                        if allowed.is_empty() { "none (it is final)".to_owned() } else { allowed.join(", ") }
                    )));
                }
                let mut next = current.invoice.clone();
                next.status = to.key().to_owned();
                let mut changes = Changes::new();
                changes.diff("status", from.key(), to.key());
                match to {
                    InvoiceStatus::Issued => {
                        // Gapless (the counter row, locked until commit), unlike case
                        // numbers: tax law may require invoice numbers without holes.
                        let number = format_invoice_number(docket_kit::counter::next(&*tx, "invoice_number").await?);
                        changes.diff("invoice_number", "", &number);
                        next.invoice_number = Some(number);
                        next.issued_at = Some(by.at);
                    }
                    InvoiceStatus::Paid => next.paid_at = Some(by.at),
                    InvoiceStatus::Void => {
                        next.voided_at = Some(by.at);
                        unbill(&tx, id).await?;
                    }
                    InvoiceStatus::Draft => {}
                }
                let event = match to {
                    InvoiceStatus::Issued => "invoice.issued",
                    InvoiceStatus::Paid => "invoice.paid",
                    InvoiceStatus::Void | InvoiceStatus::Draft => "invoice.voided",
                };
                let lines = current.lines.clone();
                let saved = tx
                    .save(&current.invoice, Edit { after: next, changes }, |_, saved, _| {
                        let record = InvoiceRecord { invoice: saved.clone(), lines: lines.clone() };
                        vec![events::invoice_changed(event, &record, by.reason)]
                    })
                    .await?;
                Ok(InvoiceRecord { invoice: saved, lines })
            })
            .await
    }

    /// Debits the case's unbilled cost to a prepaid sub-contract of its
    /// contract: a money balance pays billable hours and parts at their net
    /// cost, an hours balance pays billable booked minutes (parts stay to be
    /// invoiced). Refused when the balance is short, unless it allows overdraft.
    pub async fn debit_case(
        &self,
        case_id: &str,
        sub: &sub_contract::Model,
        terms: &BillingTerms,
        by: &Actor<'_>,
        key: Option<&Idempotency>,
    ) -> Result<Debit> {
        self.mutations
            .run_once(
                by,
                Once { scope: "DebitCase", key },
                async |tx| {
                    let (hours, all_parts) = unbilled(&*tx, case_id).await?;
                    let money_balance = sub.balance_kind == "money";
                    let parts = if money_balance { all_parts } else { Vec::new() };
                    let draft = price(terms, &hours, &parts)?;
                    let minutes: i64 = hours.iter().map(|h| i64::from(h.minutes)).sum();
                    let amount = match (&draft, money_balance) {
                        (Some(draft), true) => draft.net.minor,
                        (Some(_), false) => minutes,
                        (None, _) => 0,
                    };
                    if amount <= 0 {
                        return Err(Error::Precondition(
                            "nothing to debit: the case has no unbilled billable work for this balance".into(),
                        ));
                    }
                    let unit = if money_balance { terms.currency.code().to_owned() } else { "minutes".to_owned() };
                    let description = format!("Case {case_id}: {amount} {unit}");
                    let Some(entry) = post(&tx, &sub.id, -amount, "debit", Some(case_id), &description).await? else {
                        let current = sub_contract::Entity::find_by_id(sub.id.clone())
                            .one(&*tx)
                            .await?
                            .map(|s| s.balance)
                            .unwrap_or(sub.balance);
                        return Err(Error::Precondition(format!(
                            "the balance of sub-contract {} ({current} {unit}) does not cover {amount} {unit}",
                            sub.name
                        )));
                    };
                    mark_billed(&tx, &hours, &parts, None, Some(&entry.id)).await?;
                    let mut changes = Changes::new();
                    changes.set("debited", "", format!("{amount} {unit} for case {case_id}"));
                    tx.trail("sub_contract", &sub.contract_id, &changes).await?;
                    Ok(Debit { entry, hours, parts, draft })
                },
                |debit| &debit.entry.id,
                |entry_id| async move { self.debit_of(&entry_id, terms).await },
            )
            .await
    }

    /// A debit already made (an idempotent retry), with what it paid for.
    async fn debit_of(&self, entry_id: &str, terms: &BillingTerms) -> Result<Debit> {
        let entry = ledger_entry::Entity::find_by_id(entry_id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("ledger entry {entry_id} not found")))?;
        let hours = booked_hours::Entity::find().filter(booked_hours::Column::LedgerEntryId.eq(entry_id)).all(&self.db).await?;
        let parts = service_part::Entity::find().filter(service_part::Column::LedgerEntryId.eq(entry_id)).all(&self.db).await?;
        let draft = price(terms, &hours, &parts)?;
        Ok(Debit { entry, hours, parts, draft })
    }
}
