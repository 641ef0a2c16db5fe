//! StaffService: staff users and teams (queues).

use docket_proto::case::v1 as pb;
use tonic::Code;

use crate::{
    common::{ADMIN, TestApp, VIEWER},
    fixtures::{mask, staff_user, team},
    on_both_backends,
};

on_both_backends!(
    staff_and_teams_are_kept_with_their_members,
    a_staff_member_goes_out_of_office_and_leaves,
    a_team_is_renamed_and_read_back_with_its_members,
);

async fn staff_and_teams_are_kept_with_their_members(app: TestApp) {
    let alex = staff_user(&app, "Alex Agent").await;
    let sam = staff_user(&app, "Sam Support").await;
    assert!(alex.active && alex.available);
    let support = team(&app, "Support").await;
    let mut staff = app.staff(ADMIN);
    staff.add_team_member(pb::TeamMemberRequest { team_id: support.id.clone(), staff_user_id: alex.id.clone() }).await.unwrap();
    let with_both = staff
        .add_team_member(pb::TeamMemberRequest { team_id: support.id.clone(), staff_user_id: sam.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(with_both.member_ids, vec![alex.id.clone(), sam.id.clone()]);
    // Adding again changes nothing.
    let same = staff
        .add_team_member(pb::TeamMemberRequest { team_id: support.id.clone(), staff_user_id: sam.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(same.member_ids.len(), 2);

    let in_team = app
        .staff(VIEWER)
        .list_staff_users(pb::ListStaffUsersRequest { team_id: support.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .staff_users;
    assert_eq!(in_team.len(), 2);

    let removed = staff
        .remove_team_member(pb::TeamMemberRequest { team_id: support.id.clone(), staff_user_id: alex.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(removed.member_ids, vec![sam.id.clone()]);

    let duplicate = staff
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team { name: "Support".into(), ..Default::default() }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);

    let teams = app.staff(VIEWER).list_teams(pb::ListTeamsRequest::default()).await.unwrap().into_inner().teams;
    assert_eq!(teams.len(), 1);
    let trail = app
        .staff(VIEWER)
        .list_staff_history(pb::ListHistoryRequest { id: support.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let fields: Vec<_> = trail.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["created", "name", "member_added", "member_added", "member_removed"]);
}

async fn a_staff_member_goes_out_of_office_and_leaves(app: TestApp) {
    let alex = staff_user(&app, "Alex Agent").await;
    let mut staff = app.staff(ADMIN);
    let away = staff
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                id: alex.id.clone(),
                etag: alex.etag.clone(),
                available: false,
                active: true,
                ..Default::default()
            }),
            update_mask: mask(&["available"]),
            reason: "holiday".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!away.available && away.active);
    let gone = staff
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser { id: alex.id.clone(), etag: away.etag.clone(), active: false, ..Default::default() }),
            update_mask: mask(&["active"]),
            reason: "left".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!gone.active);
    let active = app
        .staff(VIEWER)
        .list_staff_users(pb::ListStaffUsersRequest { active_only: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .staff_users;
    assert!(active.iter().all(|u| u.id != alex.id));
    let all = app
        .staff(VIEWER)
        .list_staff_users(pb::ListStaffUsersRequest { query: "alex".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .staff_users;
    assert_eq!(all.len(), 1);
}

async fn a_team_is_renamed_and_read_back_with_its_members(app: TestApp) {
    let alex = staff_user(&app, "Alex Agent").await;
    let read = app.staff(VIEWER).get_staff_user(pb::GetStaffUserRequest { id: alex.id.clone() }).await.unwrap().into_inner();
    assert_eq!(read, alex);
    let queue = team(&app, "Second line").await;
    let mut staff = app.staff(ADMIN);
    staff.add_team_member(pb::TeamMemberRequest { team_id: queue.id.clone(), staff_user_id: alex.id.clone() }).await.unwrap();
    let current = staff.get_team(pb::GetTeamRequest { id: queue.id.clone() }).await.unwrap().into_inner();
    assert_eq!(current.member_ids, vec![alex.id.clone()]);
    let renamed = staff
        .update_team(pb::UpdateTeamRequest {
            team: Some(pb::Team {
                id: queue.id.clone(),
                etag: current.etag.clone(),
                name: "Escalations".into(),
                description: "Cases that breached their SLA".into(),
                ..Default::default()
            }),
            update_mask: mask(&["name", "description"]),
            reason: "new name".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.name, "Escalations");
    assert_eq!(renamed.description, "Cases that breached their SLA");
    assert_eq!(renamed.member_ids, vec![alex.id.clone()], "members stay");
    let stale = staff
        .update_team(pb::UpdateTeamRequest {
            team: Some(pb::Team { id: queue.id.clone(), etag: current.etag.clone(), name: "Again".into(), ..Default::default() }),
            update_mask: mask(&["name"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
}
