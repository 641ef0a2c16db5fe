//! The case status machine. The service enforces it; callers only ask.
//!
//! - assigning an owner moves Active – New to Active – Assigned; clearing the
//!   owner of an Assigned case moves it back to New;
//! - Pending keeps its owner: only an owned case can become Pending, and a
//!   Pending case cannot lose its owner;
//! - closing needs a resolution summary and a closed status, from any active status;
//! - reopening a closed case needs a reason and returns it to Assigned (to
//!   New if it has no owner, since nobody could hold it);
//! - anything else is refused, naming the moves that are allowed.

use super::CaseStatus;

/// A move the machine refused, with what the case could do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a case in status {from} cannot {attempted}; allowed: {}", allowed.join("; "))]
pub struct IllegalMove {
    pub from: CaseStatus,
    pub attempted: String,
    pub allowed: Vec<String>,
}

/// The moves allowed from a status, as people read them.
pub fn allowed_moves(status: CaseStatus, has_owner: bool) -> Vec<String> {
    use CaseStatus::*;
    let close = "CloseCase → Closed – Complete or Closed – No Fault (with a resolution summary)".to_owned();
    match status {
        New => vec!["AssignCase with an owner → Active – Assigned".to_owned(), close],
        Assigned => vec!["SetCaseStatus → Pending".to_owned(), "AssignCase without an owner → Active – New".to_owned(), close],
        Pending => vec!["SetCaseStatus → Active – Assigned".to_owned(), close],
        ClosedComplete | ClosedNoFault => vec![format!("ReopenCase with a reason → {}", if has_owner { Assigned } else { New })],
    }
}

fn refuse(from: CaseStatus, has_owner: bool, attempted: impl Into<String>) -> IllegalMove {
    IllegalMove { from, attempted: attempted.into(), allowed: allowed_moves(from, has_owner) }
}

/// AssignCase: the status after setting (`Some`) or clearing (`None`) the owner.
pub fn assign(from: CaseStatus, has_owner: bool, new_owner: bool) -> Result<CaseStatus, IllegalMove> {
    use CaseStatus::*;
    match (from, new_owner) {
        (ClosedComplete | ClosedNoFault, _) => Err(refuse(from, has_owner, "be assigned")),
        (New | Assigned, true) => Ok(Assigned),
        (Pending, true) => Ok(Pending),
        (New | Assigned, false) => Ok(New),
        (Pending, false) => Err(refuse(from, has_owner, "lose its owner (Pending keeps an owner)")),
    }
}

/// SetCaseStatus: moves between the active statuses.
pub fn set_status(from: CaseStatus, has_owner: bool, to: CaseStatus) -> Result<CaseStatus, IllegalMove> {
    use CaseStatus::*;
    match (from, to) {
        (Assigned, Pending) | (Pending, Assigned) => Ok(to),
        (Assigned, Assigned) | (Pending, Pending) => Ok(to),
        _ => Err(refuse(from, has_owner, format!("move to {to} with SetCaseStatus"))),
    }
}

/// CloseCase: from any active status to a closed one.
pub fn close(from: CaseStatus, has_owner: bool, to: CaseStatus) -> Result<CaseStatus, IllegalMove> {
    if from.is_closed() || !to.is_closed() {
        return Err(refuse(from, has_owner, format!("be closed as {to}")));
    }
    Ok(to)
}

/// ReopenCase: a closed case returns to work.
pub fn reopen(from: CaseStatus, has_owner: bool) -> Result<CaseStatus, IllegalMove> {
    if !from.is_closed() {
        return Err(refuse(from, has_owner, "be reopened (it is not closed)"));
    }
    Ok(if has_owner { CaseStatus::Assigned } else { CaseStatus::New })
}

/// The invariant every reachable state keeps: New has no owner; Assigned and
/// Pending have one; closed cases may have either.
pub fn is_consistent(status: CaseStatus, has_owner: bool) -> bool {
    match status {
        CaseStatus::New => !has_owner,
        CaseStatus::Assigned | CaseStatus::Pending => has_owner,
        CaseStatus::ClosedComplete | CaseStatus::ClosedNoFault => true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Assign(bool),
        SetStatus(CaseStatus),
        Close(CaseStatus),
        Reopen,
    }

    fn any_status() -> impl Strategy<Value = CaseStatus> {
        prop::sample::select(CaseStatus::ALL.to_vec())
    }

    fn any_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<bool>().prop_map(Op::Assign),
            any_status().prop_map(Op::SetStatus),
            any_status().prop_map(Op::Close),
            Just(Op::Reopen),
        ]
    }

    proptest! {
        #[test]
        fn no_sequence_of_moves_reaches_an_inconsistent_state(start_owned in any::<bool>(), ops in prop::collection::vec(any_op(), 0..40)) {
            let (mut status, mut owned) = if start_owned { (CaseStatus::Assigned, true) } else { (CaseStatus::New, false) };
            for op in ops {
                let result = match &op {
                    Op::Assign(owner) => assign(status, owned, *owner).map(|s| (s, *owner)),
                    Op::SetStatus(to) => set_status(status, owned, *to).map(|s| (s, owned)),
                    Op::Close(to) => close(status, owned, *to).map(|s| (s, owned)),
                    Op::Reopen => reopen(status, owned).map(|s| (s, owned)),
                };
                match result {
                    Ok((next, next_owned)) => { status = next; owned = next_owned; }
                    Err(refused) => {
                        prop_assert_eq!(refused.from, status);
                        prop_assert!(!refused.allowed.is_empty());
                    }
                }
                prop_assert!(is_consistent(status, owned), "{status:?} owned={owned} after {op:?}");
            }
        }
    }

    #[test]
    fn assigning_moves_new_to_assigned() {
        assert_eq!(assign(CaseStatus::New, false, true), Ok(CaseStatus::Assigned));
    }

    #[test]
    fn pending_needs_and_keeps_an_owner() {
        assert!(set_status(CaseStatus::New, false, CaseStatus::Pending).is_err());
        assert!(assign(CaseStatus::Pending, true, false).is_err());
        assert_eq!(assign(CaseStatus::Pending, true, true), Ok(CaseStatus::Pending));
    }

    #[test]
    fn closed_cases_only_reopen() {
        let closed = CaseStatus::ClosedComplete;
        assert!(assign(closed, true, true).is_err());
        assert!(set_status(closed, true, CaseStatus::Assigned).is_err());
        assert!(close(closed, true, CaseStatus::ClosedNoFault).is_err());
        assert_eq!(reopen(closed, true), Ok(CaseStatus::Assigned));
        assert_eq!(reopen(closed, false), Ok(CaseStatus::New));
    }

    #[test]
    fn a_refusal_names_the_allowed_moves() {
        let err = set_status(CaseStatus::New, false, CaseStatus::Pending).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Active – New"), "{text}");
        assert!(text.contains("AssignCase"), "{text}");
        assert!(text.contains("CloseCase"), "{text}");
    }
}
