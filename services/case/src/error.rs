//! Everything that can go wrong in the case service: the outcomes every
//! service shares (the kit's [`Error`]); the status machine's refusal is an
//! illegal move naming the allowed ones.

/// The kit's error; the case service has no refusals of its own beyond it.
pub type Error = docket_kit::Error;

use crate::domain::status::IllegalMove;

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<IllegalMove> for Error {
    fn from(refused: IllegalMove) -> Self {
        Error::IllegalMove { message: refused.to_string(), allowed: refused.allowed }
    }
}
