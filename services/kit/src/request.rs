//! Requests parsed once at the edge: typed ids (a newtype per record kind,
//! so a contact id cannot go where a case id belongs), field masks parsed
//! into a service's own field enum, and the target of an update (id, etag,
//! mask). Past the gRPC adapter nothing matches wire strings again.
//!
//! Parsing follows [`FieldViolations`]: every problem is collected, and a
//! bad value parses as a placeholder that is never used, because the
//! request is refused with all its violations before anything runs.

use std::fmt;

pub use uuid::{self, Uuid};

use crate::error::FieldViolations;

/// The id of one kind of record: a UUID v7 (ids sort by creation time).
pub trait RecordId: Copy + Eq + fmt::Display + Send + Sync + 'static {
    fn from_uuid(uuid: Uuid) -> Self;
    fn uuid(&self) -> Uuid;

    /// Stands for an id an update does not change (its field is not in the
    /// mask), so it is never read.
    fn untouched() -> Self {
        Self::from_uuid(Uuid::nil())
    }

    /// The id of a stored row; one that is not a UUID is a damaged row.
    fn stored(text: &str) -> Result<Self, sea_orm::DbErr> {
        Uuid::try_parse(text)
            .map(Self::from_uuid)
            .map_err(|_| sea_orm::DbErr::Type(format!("the stored id `{text}` is not a UUID")))
    }

    /// A new id for a record created now.
    fn generate() -> Self {
        Self::from_uuid(Uuid::now_v7())
    }
}

/// Declares typed ids: `docket_kit::record_ids!(CaseId, ContactId);`.
#[macro_export]
macro_rules! record_ids {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($crate::request::Uuid);

        impl $crate::request::RecordId for $name {
            fn from_uuid(uuid: $crate::request::Uuid) -> Self {
                Self(uuid)
            }

            fn uuid(&self) -> $crate::request::Uuid {
                self.0
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::request::uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $crate::request::Uuid::try_parse(text).map(Self)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }
    )+};
}

/// A field of a record that an update may change, named by its mask path.
pub trait MaskField: Copy + Eq + Send + Sync + 'static {
    /// Every field with its path, in the order the API documents them.
    const ALL: &'static [(&'static str, Self)];

    fn path(self) -> &'static str {
        Self::ALL.iter().find(|(_, f)| *f == self).map(|(p, _)| *p).unwrap_or_default()
    }
}

/// Declares a record's updatable fields; a field's mask path is its name in
/// snake_case (`PortalEnabled` is `portal_enabled`), or the one written
/// after it (`Street = "address.street"`):
/// `docket_kit::mask_fields!(pub enum ContactField { Name, Email, PortalEnabled });`
#[macro_export]
macro_rules! mask_fields {
    (@path $variant:ident = $path:literal) => {
        $path
    };
    (@path $variant:ident) => {{
        const PATH: [u8; $crate::request::snake_len(stringify!($variant))] = $crate::request::snake_case(stringify!($variant));
        match ::std::str::from_utf8(&PATH) {
            Ok(path) => path,
            Err(_) => panic!("a mask field is named in ASCII"),
        }
    }};
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident $(= $path:literal)?),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $crate::request::MaskField for $name {
            const ALL: &'static [(&'static str, Self)] =
                &[$(($crate::mask_fields!(@path $variant $(= $path)?), $name::$variant)),+];
        }
    };
}

/// The length of the ASCII CamelCase `name` in snake_case.
pub const fn snake_len(name: &str) -> usize {
    let bytes = name.as_bytes();
    let mut len = bytes.len();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i].is_ascii_uppercase() {
            len += 1;
        }
        i += 1;
    }
    len
}

/// The ASCII CamelCase `name` in snake_case; `N` is its [`snake_len`].
pub const fn snake_case<const N: usize>(name: &str) -> [u8; N] {
    let bytes = name.as_bytes();
    let mut out = [0u8; N];
    let (mut i, mut o) = (0, 0);
    while i < bytes.len() {
        if bytes[i].is_ascii_uppercase() {
            if i > 0 {
                out[o] = b'_';
                o += 1;
            }
            out[o] = bytes[i].to_ascii_lowercase();
        } else {
            out[o] = bytes[i];
        }
        o += 1;
        i += 1;
    }
    out
}

/// The fields an update changes, each named once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMask<F>(Vec<F>);

impl<F: MaskField> FieldMask<F> {
    /// Every field: what a create sets.
    pub fn all() -> Self {
        Self(F::ALL.iter().map(|(_, f)| *f).collect())
    }

    pub fn of(fields: &[F]) -> Self {
        let mut mask = Self(Vec::new());
        for field in fields {
            if !mask.0.contains(field) {
                mask.0.push(*field);
            }
        }
        mask
    }

    pub fn contains(&self, field: F) -> bool {
        self.0.contains(&field)
    }

    pub fn iter(&self) -> impl Iterator<Item = F> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds a field the change implies (a new contract number implies its id).
    pub fn insert(&mut self, field: F) {
        if !self.0.contains(&field) {
            self.0.push(field);
        }
    }

    /// The paths, as the API names them.
    pub fn paths(&self) -> Vec<&'static str> {
        self.0.iter().map(|f| f.path()).collect()
    }
}

/// Whether a request's `field` is to be read: always on a create (`None`:
/// every field), on an update when the mask names it.
pub fn wanted<F: MaskField>(mask: Option<&FieldMask<F>>, field: F) -> bool {
    mask.is_none_or(|m| m.contains(field))
}

/// What an update names: the record, the etag the caller read, and the
/// fields it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateTarget<I, F> {
    pub id: I,
    pub etag: i64,
    pub mask: FieldMask<F>,
}

impl FieldViolations {
    /// A required id of a kind of record.
    pub fn id<I: RecordId>(&mut self, field: &str, value: &str) -> I {
        I::from_uuid(self.required_id(field, value).unwrap_or_default())
    }

    /// An optional id of a kind of record: empty means none.
    pub fn opt_id<I: RecordId>(&mut self, field: &str, value: &str) -> Option<I> {
        self.optional_id(field, value).map(I::from_uuid)
    }

    /// A required id as the text the store keeps (a placeholder when bad:
    /// the request is refused before it is used). Prefer [`Self::id`]; this
    /// is for stores that still key rows by text.
    pub fn id_text(&mut self, field: &str, value: &str) -> String {
        self.required_id(field, value).map(|id| id.to_string()).unwrap_or_default()
    }

    /// An optional id as text: empty means none.
    pub fn opt_id_text(&mut self, field: &str, value: &str) -> Option<String> {
        self.optional_id(field, value).map(|id| id.to_string())
    }

    /// An update's field mask: each path one of `F`'s; an empty mask is an
    /// error (an update must say what it changes).
    pub fn field_mask<F: MaskField>(&mut self, mask: Option<&prost_types::FieldMask>) -> FieldMask<F> {
        let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
        let allowed = || F::ALL.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", ");
        if paths.is_empty() {
            self.add("update_mask", format!("name the fields to change; allowed: {}", allowed()));
            return FieldMask(Vec::new());
        }
        let mut fields = Vec::new();
        for path in paths {
            match F::ALL.iter().find(|(p, _)| *p == path.as_str()) {
                Some((_, field)) if !fields.contains(field) => fields.push(*field),
                Some(_) => {}
                None => self.add(
                    "update_mask",
                    format!("`{}` cannot be changed here; allowed: {}", path.chars().take(64).collect::<String>(), allowed()),
                ),
            }
        }
        FieldMask(fields)
    }

    /// The target of an update of the record sent as `record` (e.g. "contact"):
    /// `record.id`, `record.etag` (required) and the mask.
    pub fn update_target<I: RecordId, F: MaskField>(
        &mut self,
        record: &str,
        id: &str,
        etag: &str,
        mask: Option<&prost_types::FieldMask>,
    ) -> UpdateTarget<I, F> {
        UpdateTarget {
            id: self.id(&format!("{record}.id"), id),
            etag: self.etag(&format!("{record}.etag"), etag, true).unwrap_or_default(),
            mask: self.field_mask(mask),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::record_ids!(ThingId);
    crate::mask_fields!(
        enum ThingField {
            Name,
            Notes,
            PortalEnabled,
            Street = "address.street",
        }
    );

    #[test]
    fn mask_paths_are_the_field_names_in_snake_case_unless_written() {
        let paths: Vec<_> = ThingField::ALL.iter().map(|(path, _)| *path).collect();
        assert_eq!(paths, ["name", "notes", "portal_enabled", "address.street"]);
        assert_eq!(ThingField::PortalEnabled.path(), "portal_enabled");
    }

    #[test]
    fn ids_are_typed_uuids_and_bad_ones_are_named() {
        let mut v = FieldViolations::new();
        let id = ThingId::generate();
        assert_eq!(v.id::<ThingId>("thing.id", &id.to_string()), id);
        assert!(v.is_empty());
        v.id::<ThingId>("thing.id", "nope");
        assert_eq!(v.opt_id::<ThingId>("owner_id", ""), None);
        v.opt_id::<ThingId>("owner_id", "x");
        assert_eq!(v.iter().map(|(f, _)| f).collect::<Vec<_>>(), ["thing.id", "owner_id"]);
    }

    #[test]
    fn masks_parse_into_fields_once_each_and_refuse_unknown_paths() {
        let mut v = FieldViolations::new();
        let mask = prost_types::FieldMask { paths: vec!["notes".into(), "name".into(), "notes".into()] };
        let parsed: FieldMask<ThingField> = v.field_mask(Some(&mask));
        assert_eq!(parsed.iter().collect::<Vec<_>>(), [ThingField::Notes, ThingField::Name]);
        assert!(v.is_empty());
        let _: FieldMask<ThingField> = v.field_mask(Some(&prost_types::FieldMask { paths: vec!["id".into()] }));
        let _: FieldMask<ThingField> = v.field_mask(None);
        let messages: Vec<_> = v.iter().map(|(_, d)| d.to_owned()).collect();
        assert!(
            messages[0].contains("`id` cannot be changed here; allowed: name, notes, portal_enabled, address.street"),
            "{messages:?}"
        );
        assert!(messages[1].contains("name the fields to change"), "{messages:?}");
        assert_eq!(ThingField::Notes.path(), "notes");
        assert_eq!(FieldMask::<ThingField>::all().paths(), ["name", "notes", "portal_enabled", "address.street"]);
    }

    #[test]
    fn an_update_target_needs_an_id_and_an_etag() {
        let mut v = FieldViolations::new();
        let mask = prost_types::FieldMask { paths: vec!["name".into()] };
        let target: UpdateTarget<ThingId, ThingField> = v.update_target("thing", "", "", Some(&mask));
        assert_eq!(target.mask.paths(), ["name"]);
        assert_eq!(v.iter().map(|(f, _)| f).collect::<Vec<_>>(), ["thing.id", "thing.etag"]);
    }
}
