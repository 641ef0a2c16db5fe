//! Money in integer minor units (cents) with its ISO 4217 currency. No
//! floating point anywhere: rates, quantities and tax rates are integers too.
//!
//! Rounding rule (one for the whole service): an amount that falls between
//! two minor units is rounded to the nearer one, and a tie away from zero
//! ("half up" for the positive amounts invoices have). Each invoice line is
//! rounded once; tax is computed once per tax rate on the sum of the rounded
//! line amounts of that rate; totals are plain sums of rounded amounts.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Three capital letters, e.g. `EUR`.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(MoneyError::BadCurrency(code.chars().take(16).collect()));
        }
        Ok(Self([bytes[0], bytes[1], bytes[2]]))
    }

    pub fn code(&self) -> &str {
        // Three ASCII capitals, checked in `parse`.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an ISO 4217 currency code (three capital letters)")]
    BadCurrency(String),
    #[error("cannot combine {0} and {1} amounts")]
    CurrencyMismatch(Currency, Currency),
    #[error("the amount is too large")]
    Overflow,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        self.minor.checked_add(other.minor).map(|minor| Money { minor, currency: self.currency }).ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        self.minor.checked_sub(other.minor).map(|minor| Money { minor, currency: self.currency }).ok_or(MoneyError::Overflow)
    }
}

impl fmt::Display for Money {
    /// `12.34 EUR` for two-decimal currencies.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

/// `numerator / denominator` rounded to the nearest integer, ties away from
/// zero. `None` on overflow or a zero denominator.
pub fn div_round(numerator: i128, denominator: i128) -> Option<i128> {
    if denominator == 0 {
        return None;
    }
    let (n, d) = if denominator < 0 { (numerator.checked_neg()?, denominator.checked_neg()?) } else { (numerator, denominator) };
    let quotient = n / d;
    let remainder = n % d;
    // Compare 2|r| with d without overflow.
    if remainder.unsigned_abs().checked_mul(2)? >= d.unsigned_abs() {
        Some(if n >= 0 { quotient + 1 } else { quotient - 1 })
    } else {
        Some(quotient)
    }
}

fn to_i64(value: Option<i128>) -> Result<i64, MoneyError> {
    value.and_then(|v| i64::try_from(v).ok()).ok_or(MoneyError::Overflow)
}

/// The cost of `minutes` at `rate` per hour, rounded once.
pub fn time_cost(rate_per_hour: Money, minutes: i64) -> Result<Money, MoneyError> {
    let minor = to_i64(div_round(i128::from(rate_per_hour.minor) * i128::from(minutes), 60))?;
    Ok(Money::new(minor, rate_per_hour.currency))
}

/// The amount of `quantity_milli` thousandths of a unit at `unit_price`, rounded once.
pub fn quantity_cost(unit_price: Money, quantity_milli: i64) -> Result<Money, MoneyError> {
    let minor = to_i64(div_round(i128::from(unit_price.minor) * i128::from(quantity_milli), 1000))?;
    Ok(Money::new(minor, unit_price.currency))
}

/// Tax on a net amount at `rate_basis_points` (1900 = 19 %), rounded once.
pub fn tax(net: Money, rate_basis_points: i64) -> Result<Money, MoneyError> {
    let minor = to_i64(div_round(i128::from(net.minor) * i128::from(rate_basis_points), 10_000))?;
    Ok(Money::new(minor, net.currency))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap())
    }

    #[test]
    fn halves_round_away_from_zero() {
        assert_eq!(div_round(5, 2), Some(3));
        assert_eq!(div_round(-5, 2), Some(-3));
        assert_eq!(div_round(4, 3), Some(1));
        assert_eq!(div_round(5, 3), Some(2));
        assert_eq!(div_round(-4, 3), Some(-1));
        assert_eq!(div_round(7, -2), Some(-4));
        assert_eq!(div_round(1, 0), None);
    }

    #[test]
    fn time_parts_and_tax_are_rounded_once_each() {
        // 95.00 EUR/h for 20 minutes = 31.666.. -> 31.67
        assert_eq!(time_cost(eur(9_500), 20).unwrap(), eur(3_167));
        // 12.50 EUR/h for 90 minutes = 18.75 exactly
        assert_eq!(time_cost(eur(1_250), 90).unwrap(), eur(1_875));
        // 0.03 EUR/h for 30 minutes = 0.015 -> 0.02 (tie away from zero)
        assert_eq!(time_cost(eur(3), 30).unwrap(), eur(2));
        // 2.5 m of cable at 3.99 EUR/m = 9.975 -> 9.98
        assert_eq!(quantity_cost(eur(399), 2_500).unwrap(), eur(998));
        // 19 % of 31.67 = 6.0173 -> 6.02
        assert_eq!(tax(eur(3_167), 1_900).unwrap(), eur(602));
        // 7 % of 0.50 = 0.035 -> 0.04
        assert_eq!(tax(eur(50), 700).unwrap(), eur(4));
    }

    #[test]
    fn currencies_do_not_mix_and_overflow_is_an_error() {
        let usd = Money::new(100, Currency::parse("USD").unwrap());
        assert!(matches!(eur(100).checked_add(usd), Err(MoneyError::CurrencyMismatch(..))));
        assert_eq!(eur(i64::MAX).checked_add(eur(1)), Err(MoneyError::Overflow));
        assert_eq!(time_cost(eur(i64::MAX), 600), Err(MoneyError::Overflow));
        for bad in ["eur", "EURO", "E1R", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(eur(-1234).to_string(), "-12.34 EUR");
    }

    proptest! {
        #[test]
        fn rounding_is_never_more_than_half_a_unit_off(n in -1_000_000_000i128..1_000_000_000, d in 1i128..100_000) {
            let rounded = div_round(n, d).unwrap();
            // |rounded * d - n| <= d / 2
            prop_assert!((rounded * d - n).abs() * 2 <= d);
        }

        #[test]
        fn whole_hours_cost_exactly_the_rate(rate in 0i64..10_000_000, hours in 0i64..1000) {
            prop_assert_eq!(time_cost(eur(rate), hours * 60).unwrap(), eur(rate * hours));
        }
    }
}
