//! Turning a case's billable hours and parts into an invoice, or into a
//! debit of a prepaid sub-contract. Pure arithmetic; the store locks what
//! was billed so nothing is billed twice.

use super::money::{Currency, Money, MoneyError, quantity_cost, tax, time_cost};

/// Hours booked on a case, at the rate that applies to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedHours {
    pub id: String,
    pub description: String,
    pub minutes: i64,
    pub rate_per_hour: Money,
    pub billable: bool,
}

impl BookedHours {
    /// The invoice line billing these hours.
    fn line(&self) -> Result<InvoiceLine, MoneyError> {
        let hours = format!("{}:{:02} h", self.minutes / 60, self.minutes % 60);
        Ok(InvoiceLine {
            source: LineSource::Hours,
            source_id: self.id.clone(),
            description: format!("{} ({hours} at {}/h)", self.description, self.rate_per_hour),
            amount: time_cost(self.rate_per_hour, self.minutes)?,
        })
    }
}

/// A service part used on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePart {
    pub id: String,
    pub part_number: String,
    pub description: String,
    /// Thousandths of a unit (2500 = 2.5).
    pub quantity_milli: i64,
    pub unit_price: Money,
    pub billable: bool,
}

impl ServicePart {
    /// The invoice line billing this part.
    fn line(&self) -> Result<InvoiceLine, MoneyError> {
        let quantity = format!("{}.{:03}", self.quantity_milli / 1000, self.quantity_milli % 1000);
        Ok(InvoiceLine {
            source: LineSource::Part,
            source_id: self.id.clone(),
            description: format!("{} {} ({quantity} x {})", self.part_number, self.description, self.unit_price),
            amount: quantity_cost(self.unit_price, self.quantity_milli)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSource {
    Hours,
    Part,
}

impl LineSource {
    /// How an invoice line and a cost line name what they bill.
    pub fn key(self) -> &'static str {
        match self {
            LineSource::Hours => "hours",
            LineSource::Part => "part",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub source: LineSource,
    /// The booked hours or part it bills.
    pub source_id: String,
    pub description: String,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDraft {
    pub lines: Vec<InvoiceLine>,
    pub net: Money,
    /// Basis points: 1900 = 19 %.
    pub tax_rate_bp: i64,
    pub tax: Money,
    pub gross: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    #[error("there is nothing billable on this case")]
    NothingToBill,
    #[error("the tax rate must be between 0 and 100 %")]
    BadTaxRate,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The invoice lines of the billable items, with totals.
pub fn draft(
    currency: Currency,
    hours: &[BookedHours],
    parts: &[ServicePart],
    tax_rate_bp: i64,
) -> Result<InvoiceDraft, InvoiceError> {
    if !(0..=10_000).contains(&tax_rate_bp) {
        return Err(InvoiceError::BadTaxRate);
    }
    let lines = hours
        .iter()
        .filter(|h| h.billable)
        .map(BookedHours::line)
        .chain(parts.iter().filter(|p| p.billable).map(ServicePart::line))
        .collect::<Result<Vec<_>, _>>()?;
    if lines.is_empty() {
        return Err(InvoiceError::NothingToBill);
    }
    let mut net = Money::zero(currency);
    for line in &lines {
        net = net.checked_add(line.amount)?;
    }
    let tax = tax(net, tax_rate_bp)?;
    let gross = net.checked_add(tax)?;
    Ok(InvoiceDraft { lines, net, tax_rate_bp, tax, gross })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DebitError {
    #[error("the balance of {balance} does not cover {amount}")]
    Insufficient { balance: Money, amount: Money },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The balance after debiting `amount`; refused when short unless overdraft is allowed.
pub fn debit(balance: Money, amount: Money, allow_overdraft: bool) -> Result<Money, DebitError> {
    let after = balance.checked_sub(amount)?;
    if after.minor < 0 && !allow_overdraft {
        return Err(DebitError::Insufficient { balance, amount });
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap())
    }

    fn hours(id: &str, minutes: i64, rate: i64, billable: bool) -> BookedHours {
        BookedHours { id: id.into(), description: "On-site repair".into(), minutes, rate_per_hour: eur(rate), billable }
    }

    fn part(id: &str, quantity_milli: i64, price: i64, billable: bool) -> ServicePart {
        ServicePart {
            id: id.into(),
            part_number: "CB-7".into(),
            description: "Controller board".into(),
            quantity_milli,
            unit_price: eur(price),
            billable,
        }
    }

    #[test]
    fn an_invoice_bills_billable_hours_and_parts_with_exact_totals() {
        let currency = Currency::parse("EUR").unwrap();
        let invoice = draft(
            currency,
            &[hours("h1", 20, 9_500, true), hours("h2", 90, 1_250, true), hours("h3", 60, 9_500, false)],
            &[part("p1", 2_500, 399, true), part("p2", 1_000, 50_000, false)],
            1_900,
        )
        .unwrap();
        let amounts: Vec<i64> = invoice.lines.iter().map(|l| l.amount.minor).collect();
        assert_eq!(amounts, [3_167, 1_875, 998]);
        assert_eq!(invoice.net, eur(6_040));
        // 19 % of 60.40 = 11.476 -> 11.48
        assert_eq!(invoice.tax, eur(1_148));
        assert_eq!(invoice.gross, eur(7_188));
        assert!(invoice.lines[0].description.contains("0:20 h at 95.00 EUR/h"));
        assert!(invoice.lines[2].description.contains("2.500 x 3.99 EUR"));
    }

    #[test]
    fn nothing_billable_or_mixed_currencies_are_refused() {
        let currency = Currency::parse("EUR").unwrap();
        assert_eq!(draft(currency, &[hours("h", 60, 100, false)], &[], 0), Err(InvoiceError::NothingToBill));
        let usd = BookedHours { rate_per_hour: Money::new(100, Currency::parse("USD").unwrap()), ..hours("h", 60, 100, true) };
        assert!(matches!(draft(currency, &[usd], &[], 0), Err(InvoiceError::Money(MoneyError::CurrencyMismatch(..)))));
        assert_eq!(draft(currency, &[hours("h", 60, 100, true)], &[], 10_001), Err(InvoiceError::BadTaxRate));
    }

    #[test]
    fn a_short_balance_is_refused_unless_overdraft_is_allowed() {
        assert_eq!(debit(eur(10_000), eur(7_188), false), Ok(eur(2_812)));
        assert_eq!(
            debit(eur(5_000), eur(7_188), false),
            Err(DebitError::Insufficient { balance: eur(5_000), amount: eur(7_188) })
        );
        assert_eq!(debit(eur(5_000), eur(7_188), true), Ok(eur(-2_188)));
    }

    proptest! {
        #[test]
        fn totals_are_the_sums_of_rounded_lines(items in prop::collection::vec((1i64..600, 1i64..50_000, any::<bool>()), 1..20), rate_bp in 0i64..=10_000) {
            let currency = Currency::parse("EUR").unwrap();
            let booked: Vec<BookedHours> = items.iter().enumerate().map(|(i, (m, r, b))| hours(&i.to_string(), *m, *r, *b)).collect();
            match draft(currency, &booked, &[], rate_bp) {
                Ok(invoice) => {
                    let sum: i64 = invoice.lines.iter().map(|l| l.amount.minor).sum();
                    prop_assert_eq!(invoice.net.minor, sum);
                    prop_assert_eq!(invoice.gross.minor, invoice.net.minor + invoice.tax.minor);
                    prop_assert_eq!(invoice.lines.len(), booked.iter().filter(|b| b.billable).count());
                    prop_assert!(invoice.tax.minor * 10_000 - invoice.net.minor * rate_bp <= 5_000);
                }
                Err(InvoiceError::NothingToBill) => prop_assert!(booked.iter().all(|b| !b.billable)),
                Err(other) => prop_assert!(false, "{other}"),
            }
        }
    }
}

/// Where an invoice stands: draft -> issued -> paid, or void.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    Draft,
    Issued,
    Paid,
    Void,
}

impl InvoiceStatus {
    pub fn key(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Issued => "issued",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        [InvoiceStatus::Draft, InvoiceStatus::Issued, InvoiceStatus::Paid, InvoiceStatus::Void]
            .into_iter()
            .find(|s| s.key() == key)
    }

    /// draft -> issued -> paid; draft | issued -> void.
    pub fn allowed_moves(self) -> &'static [InvoiceStatus] {
        match self {
            InvoiceStatus::Draft => &[InvoiceStatus::Issued, InvoiceStatus::Void],
            InvoiceStatus::Issued => &[InvoiceStatus::Paid, InvoiceStatus::Void],
            InvoiceStatus::Paid | InvoiceStatus::Void => &[],
        }
    }
}
