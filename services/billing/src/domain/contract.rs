//! Service contracts: their status machine, and entitlement — whether a
//! case of an account (and asset) on a given day is covered by a contract.

use std::fmt;

use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContractStatus {
    Draft,
    Active,
    Expired,
    Cancelled,
}

impl ContractStatus {
    pub const ALL: [ContractStatus; 4] =
        [ContractStatus::Draft, ContractStatus::Active, ContractStatus::Expired, ContractStatus::Cancelled];

    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            ContractStatus::Draft => "draft",
            ContractStatus::Active => "active",
            ContractStatus::Expired => "expired",
            ContractStatus::Cancelled => "cancelled",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }

    /// What the contract is on `today`: an active contract whose end date
    /// has passed is expired, without anyone having to say so.
    pub fn effective(self, end_date: NaiveDate, today: NaiveDate) -> Self {
        if self == ContractStatus::Active && today > end_date { ContractStatus::Expired } else { self }
    }

    /// Where a contract may go from here (by its effective status).
    pub fn allowed_moves(self) -> &'static [ContractStatus] {
        match self {
            ContractStatus::Draft => &[ContractStatus::Active, ContractStatus::Cancelled],
            ContractStatus::Active => &[ContractStatus::Cancelled, ContractStatus::Expired],
            ContractStatus::Expired | ContractStatus::Cancelled => &[],
        }
    }
}

impl fmt::Display for ContractStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A status move the machine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from} contract cannot become {to}; allowed: {}", allowed(*from))]
pub struct IllegalMove {
    pub from: ContractStatus,
    pub to: ContractStatus,
}

fn allowed(from: ContractStatus) -> String {
    let moves = from.allowed_moves();
    if moves.is_empty() { "none (it is final)".to_owned() } else { moves.iter().map(|s| s.key()).collect::<Vec<_>>().join(", ") }
}

/// Checks a move from the contract's effective status.
pub fn check_move(from: ContractStatus, to: ContractStatus) -> Result<(), IllegalMove> {
    if from.allowed_moves().contains(&to) { Ok(()) } else { Err(IllegalMove { from, to }) }
}

/// A serial number as compared: trimmed, case-insensitive.
pub fn serial_key(serial: &str) -> String {
    serial.trim().to_lowercase()
}

/// What entitlement needs to know of a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub number: String,
    pub account_id: String,
    pub status: ContractStatus,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// Serial keys of the covered assets; empty covers all of the account's cases.
    pub asset_keys: Vec<String>,
}

/// Why a contract does not cover a case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no service contract {0} exists")]
    NotFound(String),
    #[error("contract {0} belongs to another account")]
    OtherAccount(String),
    #[error("contract {number} is {status}, not active")]
    NotActive { number: String, status: ContractStatus },
    #[error("contract {number} expired on {end}")]
    Expired { number: String, end: NaiveDate },
    #[error("contract {number} starts on {start}")]
    NotStarted { number: String, start: NaiveDate },
    #[error("no active service contract covers this account or asset")]
    NoContract,
    #[error("contract {number} does not cover the asset with serial number {serial}")]
    AssetNotCovered { number: String, serial: String },
}

/// Whether `terms` covers a case of `account_id` for the asset `serial`
/// (empty: no asset) on `day`.
pub fn covers(terms: &Terms, account_id: &str, serial: &str, day: NaiveDate) -> Result<(), Refusal> {
    if terms.account_id != account_id {
        return Err(Refusal::OtherAccount(terms.number.clone()));
    }
    match terms.status.effective(terms.end_date, day) {
        ContractStatus::Active => {}
        ContractStatus::Expired => return Err(Refusal::Expired { number: terms.number.clone(), end: terms.end_date }),
        status => return Err(Refusal::NotActive { number: terms.number.clone(), status }),
    }
    if day < terms.start_date {
        return Err(Refusal::NotStarted { number: terms.number.clone(), start: terms.start_date });
    }
    let key = serial_key(serial);
    if !key.is_empty() && !terms.asset_keys.is_empty() && !terms.asset_keys.contains(&key) {
        return Err(Refusal::AssetNotCovered { number: terms.number.clone(), serial: serial.trim().to_owned() });
    }
    Ok(())
}

/// The contract that covers a case when none is named: among the account's
/// contracts in force on `day`, one that lists the asset beats one that
/// covers the whole account; ties go to the one that runs longest, then the
/// lowest number. `None` when nothing covers it.
pub fn find_cover<'a>(candidates: &'a [Terms], account_id: &str, serial: &str, day: NaiveDate) -> Option<&'a Terms> {
    let key = serial_key(serial);
    candidates.iter().filter(|t| covers(t, account_id, serial, day).is_ok()).max_by(|a, b| {
        let lists = |t: &Terms| !key.is_empty() && t.asset_keys.contains(&key);
        lists(a).cmp(&lists(b)).then(a.end_date.cmp(&b.end_date)).then(b.number.cmp(&a.number))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn terms(number: &str, status: ContractStatus, assets: &[&str]) -> Terms {
        Terms {
            number: number.into(),
            account_id: "acme".into(),
            status,
            start_date: day("2026-01-01"),
            end_date: day("2026-12-31"),
            asset_keys: assets.iter().map(|a| serial_key(a)).collect(),
        }
    }

    #[test]
    fn an_active_contract_past_its_end_reads_as_expired() {
        let active = ContractStatus::Active;
        assert_eq!(active.effective(day("2026-12-31"), day("2026-12-31")), ContractStatus::Active);
        assert_eq!(active.effective(day("2026-12-31"), day("2027-01-01")), ContractStatus::Expired);
        assert_eq!(ContractStatus::Draft.effective(day("2026-12-31"), day("2027-01-01")), ContractStatus::Draft);
    }

    #[test]
    fn the_status_machine_allows_only_its_moves() {
        use ContractStatus::*;
        for from in ContractStatus::ALL {
            for to in ContractStatus::ALL {
                let legal = matches!((from, to), (Draft, Active) | (Draft, Cancelled) | (Active, Cancelled) | (Active, Expired));
                assert_eq!(check_move(from, to).is_ok(), legal, "{from} -> {to}");
            }
        }
        let refused = check_move(Cancelled, Active).unwrap_err().to_string();
        assert!(refused.contains("final"), "{refused}");
        let refused = check_move(Draft, Expired).unwrap_err().to_string();
        assert!(refused.contains("allowed: active, cancelled"), "{refused}");
    }

    #[test]
    fn coverage_needs_the_account_an_active_term_and_a_covered_asset() {
        let t = terms("SC-1", ContractStatus::Active, &["SN-100"]);
        assert_eq!(covers(&t, "acme", "", day("2026-06-01")), Ok(()));
        assert_eq!(covers(&t, "acme", " sn-100 ", day("2026-06-01")), Ok(()));
        assert!(matches!(covers(&t, "acme", "SN-200", day("2026-06-01")), Err(Refusal::AssetNotCovered { .. })));
        assert_eq!(covers(&t, "globex", "", day("2026-06-01")), Err(Refusal::OtherAccount("SC-1".into())));
        assert!(matches!(covers(&t, "acme", "", day("2027-01-01")), Err(Refusal::Expired { .. })));
        assert!(matches!(covers(&t, "acme", "", day("2025-12-31")), Err(Refusal::NotStarted { .. })));
        let draft = terms("SC-2", ContractStatus::Draft, &[]);
        assert!(matches!(covers(&draft, "acme", "", day("2026-06-01")), Err(Refusal::NotActive { .. })));
        let cancelled = terms("SC-3", ContractStatus::Cancelled, &[]);
        assert!(matches!(covers(&cancelled, "acme", "", day("2026-06-01")), Err(Refusal::NotActive { .. })));
    }

    #[test]
    fn the_contract_listing_the_asset_wins_over_a_general_one() {
        let general = terms("SC-1", ContractStatus::Active, &[]);
        let specific = terms("SC-2", ContractStatus::Active, &["SN-7"]);
        let draft = terms("SC-3", ContractStatus::Draft, &["SN-7"]);
        let all = vec![general.clone(), specific.clone(), draft];
        assert_eq!(find_cover(&all, "acme", "sn-7", day("2026-03-01")), Some(&specific));
        assert_eq!(find_cover(&all, "acme", "", day("2026-03-01")), Some(&general));
        // SN-9 is not listed by SC-2, so only the general contract covers it.
        assert_eq!(find_cover(&all, "acme", "SN-9", day("2026-03-01")), Some(&general));
        assert_eq!(find_cover(&all, "globex", "", day("2026-03-01")), None);
        assert_eq!(find_cover(&all, "acme", "", day("2027-03-01")), None);
    }
}
