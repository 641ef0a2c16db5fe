//! Articles: who may read them, the review lifecycle, and what changed
//! between two versions.
//!
//! An article has a working copy (what authors edit) and frozen versions
//! (one per publish). Readers see the live version; authors and reviewers
//! see the working copy. The working copy moves
//! `draft → in_review → published`, with `rejected` back to `draft`; an
//! admin may publish a draft directly. Publishing at a later time makes it
//! `scheduled` until the scheduler puts it live; editing a scheduled
//! article takes it back to `draft`. Editing a published article starts a
//! new draft while the published version stays live. `archived` takes the
//! article off the help center but keeps its page answering.

use super::{ArticleId, CategoryId};

docket_kit::mask_fields!(
    /// What an update of an article may change.
    pub enum ArticleField {
        Slug,
        Title,
        Summary,
        BodyMarkdown,
        Locale,
        CategoryId,
        Tags,
        Audience,
        RelatedArticleIds,
        OwnerId,
    }
);

pub const TITLE_MAX: usize = 200;
pub const SUMMARY_MAX: usize = 1_000;
pub const TAG_MAX: usize = 40;
pub const TAGS_MAX: usize = 20;
pub const RELATED_MAX: usize = 20;
pub const COMMENT_MAX: usize = 2_000;

/// Who may read an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Audience {
    /// Staff only.
    Internal,
    /// Logged-in portal users of any account, and staff.
    Customers,
    /// Anyone on the help center.
    Public,
}

impl Audience {
    pub fn name(self) -> &'static str {
        match self {
            Audience::Internal => "internal",
            Audience::Customers => "customers",
            Audience::Public => "public",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Audience::Internal, Audience::Customers, Audience::Public].into_iter().find(|a| a.name() == name)
    }

    /// How widely the audience reads: internal 0, customers 1, public 2.
    /// A reader of one audience may read every wider one.
    pub fn reach(self) -> i16 {
        match self {
            Audience::Internal => 0,
            Audience::Customers => 1,
            Audience::Public => 2,
        }
    }
}

/// Who reads: what each kind of reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// A staff token: every article, drafts too.
    Staff,
    /// A service acting for a logged-in portal contact.
    Customer,
    /// Anyone else: the help center's visitor, another system.
    Anonymous,
}

impl Reader {
    /// The audiences this reader may see.
    pub fn audiences(self) -> &'static [Audience] {
        match self {
            Reader::Staff => &[Audience::Internal, Audience::Customers, Audience::Public],
            Reader::Customer => &[Audience::Customers, Audience::Public],
            Reader::Anonymous => &[Audience::Public],
        }
    }

    pub fn may_read(self, audience: Audience) -> bool {
        self.audiences().contains(&audience)
    }
}

/// Where an article's working copy is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Draft,
    InReview,
    /// Approved to go live at its publish time.
    Scheduled,
    Published,
    Archived,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::InReview => "in_review",
            State::Scheduled => "scheduled",
            State::Published => "published",
            State::Archived => "archived",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [State::Draft, State::InReview, State::Scheduled, State::Published, State::Archived]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// A move of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The author asks for review.
    Submit,
    /// The reviewer sends it back.
    Reject,
    Publish,
    /// Publish at a later time (the reviewer's approval, like `Publish`).
    Schedule,
    /// The scheduler puts a scheduled article live at its time.
    GoLive,
    Archive,
    /// A change of the working copy's fields.
    Edit,
}

impl Step {
    fn verb(self) -> &'static str {
        match self {
            Step::Submit => "submit for review",
            Step::Reject => "reject",
            Step::Publish => "publish",
            Step::Schedule => "schedule",
            Step::GoLive => "go live",
            Step::Archive => "archive",
            Step::Edit => "edit",
        }
    }
}

/// Who makes a move, as the lifecycle needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mover<'a> {
    pub actor: &'a str,
    pub is_admin: bool,
}

/// A move the lifecycle refuses: why, and the moves it allows from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub message: String,
    pub allowed: Vec<String>,
}

impl From<Refused> for docket_kit::Error {
    fn from(refused: Refused) -> Self {
        docket_kit::Error::IllegalMove { message: refused.message, allowed: refused.allowed }
    }
}

/// The state after `step` from `state`. `submitted_by` is who asked for
/// the review in progress: a reviewer must be someone else, unless an
/// admin publishes.
pub fn next(state: State, step: Step, submitted_by: Option<&str>, by: Mover<'_>) -> Result<State, Refused> {
    let allowed = |state: State| -> Vec<String> {
        let steps: &[Step] = match state {
            State::Draft => &[Step::Edit, Step::Submit, Step::Publish, Step::Schedule],
            State::InReview => &[Step::Edit, Step::Reject, Step::Publish, Step::Schedule],
            State::Scheduled => &[Step::Edit, Step::Publish],
            State::Published => &[Step::Edit, Step::Archive],
            State::Archived => &[],
        };
        steps.iter().map(|s| s.verb().to_owned()).collect()
    };
    let refuse = |why: String| Err(Refused { message: why, allowed: allowed(state) });
    match (state, step) {
        (State::Draft | State::InReview | State::Scheduled | State::Published, Step::Edit) => {
            // A change after submission needs a new review; a change of a
            // published article is a new draft beside the live version.
            Ok(State::Draft)
        }
        (State::Draft, Step::Submit) => Ok(State::InReview),
        (State::InReview, Step::Reject) => Ok(State::Draft),
        (State::InReview, Step::Publish | Step::Schedule) => match submitted_by {
            Some(author) if author == by.actor && !by.is_admin => {
                refuse("the article needs a reviewer other than the one who submitted it".to_owned())
            }
            _ => Ok(if step == Step::Schedule { State::Scheduled } else { State::Published }),
        },
        (State::Draft, Step::Publish) if by.is_admin => Ok(State::Published),
        (State::Draft, Step::Schedule) if by.is_admin => Ok(State::Scheduled),
        // Approved already: publishing a scheduled article now, or at its time.
        (State::Scheduled, Step::Publish | Step::GoLive) => Ok(State::Published),
        (State::Draft, Step::Publish | Step::Schedule) => {
            refuse("a draft is published after review; only an admin may publish it directly".to_owned())
        }
        (State::Published, Step::Archive) => Ok(State::Archived),
        (State::Archived, _) => refuse("the article is archived".to_owned()),
        (state, step) => refuse(format!("an article that is {} cannot be {}", state.name().replace('_', " "), past(step))),
    }
}

fn past(step: Step) -> &'static str {
    match step {
        Step::Submit => "submitted for review",
        Step::Reject => "rejected",
        Step::Publish | Step::GoLive => "published",
        Step::Schedule => "scheduled",
        Step::Archive => "archived",
        Step::Edit => "edited",
    }
}

/// Tags as stored: trimmed, lowercase, each once, in the order given.
pub fn normalize_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if !tag.is_empty() && !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

/// An article's fields as a command sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleFields {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub body_markdown: String,
    pub locale: String,
    pub category_id: Option<CategoryId>,
    pub tags: Vec<String>,
    pub audience: Audience,
    pub related_article_ids: Vec<ArticleId>,
    pub owner_id: String,
}

/// A line diff of `old` to `new` in the unified style: unchanged lines
/// start with two spaces, removed ones with `- `, added ones with `+ `.
/// Empty when nothing changed.
pub fn diff(old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    // Longest common subsequence of lines, by dynamic programming from the end.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str("  ");
            out.push_str(a[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // On a tie the removal comes first, as diff tools show it.
            out.push_str("- ");
            out.push_str(a[i]);
            i += 1;
        } else {
            out.push_str("+ ");
            out.push_str(b[j]);
            j += 1;
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHOR: Mover = Mover { actor: "staff:ann", is_admin: false };
    const REVIEWER: Mover = Mover { actor: "staff:rob", is_admin: false };
    const ADMIN: Mover = Mover { actor: "staff:ada", is_admin: true };

    #[test]
    fn a_draft_is_reviewed_by_someone_else_before_it_is_published() {
        let state = next(State::Draft, Step::Submit, None, AUTHOR).unwrap();
        assert_eq!(state, State::InReview);
        let own = next(state, Step::Publish, Some(AUTHOR.actor), AUTHOR).unwrap_err();
        assert!(own.message.contains("reviewer other than"), "{own:?}");
        assert_eq!(own.allowed, ["edit", "reject", "publish", "schedule"]);
        assert_eq!(next(state, Step::Publish, Some(AUTHOR.actor), REVIEWER), Ok(State::Published));
        assert_eq!(next(state, Step::Reject, Some(AUTHOR.actor), REVIEWER), Ok(State::Draft));
    }

    #[test]
    fn only_an_admin_publishes_a_draft_directly_or_their_own_submission() {
        assert!(next(State::Draft, Step::Publish, None, AUTHOR).is_err());
        assert_eq!(next(State::Draft, Step::Publish, None, ADMIN), Ok(State::Published));
        assert_eq!(next(State::InReview, Step::Publish, Some(ADMIN.actor), ADMIN), Ok(State::Published));
    }

    #[test]
    fn editing_starts_a_new_draft_and_archived_articles_stay_archived() {
        for state in [State::Draft, State::InReview, State::Published] {
            assert_eq!(next(state, Step::Edit, None, AUTHOR), Ok(State::Draft), "{state:?}");
        }
        assert_eq!(next(State::Published, Step::Archive, None, AUTHOR), Ok(State::Archived));
        for step in [Step::Edit, Step::Submit, Step::Publish, Step::Archive, Step::Reject] {
            let refused = next(State::Archived, step, None, ADMIN).unwrap_err();
            assert!(refused.allowed.is_empty(), "{step:?}");
        }
        let refused = next(State::Draft, Step::Archive, None, ADMIN).unwrap_err();
        assert_eq!(refused.message, "an article that is draft cannot be archived");
        assert!(next(State::Draft, Step::Reject, None, ADMIN).is_err());
        assert!(next(State::Published, Step::Submit, None, ADMIN).is_err());
    }

    #[test]
    fn a_scheduled_article_goes_live_at_its_time_unless_edited_first() {
        let state = next(State::InReview, Step::Schedule, Some(AUTHOR.actor), REVIEWER).unwrap();
        assert_eq!(state, State::Scheduled);
        assert!(next(State::InReview, Step::Schedule, Some(AUTHOR.actor), AUTHOR).is_err(), "the submitter cannot approve");
        assert_eq!(next(State::Draft, Step::Schedule, None, ADMIN), Ok(State::Scheduled));
        assert!(next(State::Draft, Step::Schedule, None, AUTHOR).is_err());
        assert_eq!(next(state, Step::GoLive, None, ADMIN), Ok(State::Published));
        assert_eq!(next(state, Step::Publish, None, AUTHOR), Ok(State::Published));
        assert_eq!(next(state, Step::Edit, None, AUTHOR), Ok(State::Draft));
        assert!(next(state, Step::Archive, None, ADMIN).is_err());
        assert!(next(State::Draft, Step::GoLive, None, ADMIN).is_err(), "only a scheduled article goes live");
    }

    #[test]
    fn readers_see_their_audiences() {
        assert!(Reader::Staff.may_read(Audience::Internal));
        assert!(!Reader::Customer.may_read(Audience::Internal));
        assert!(Reader::Customer.may_read(Audience::Customers));
        assert!(!Reader::Anonymous.may_read(Audience::Customers));
        assert!(Reader::Anonymous.may_read(Audience::Public));
    }

    #[test]
    fn tags_are_trimmed_lowercased_and_kept_once() {
        let tags = ["  Toner ", "toner", "", "Paper Jam"].map(String::from);
        assert_eq!(normalize_tags(&tags), ["toner", "paper jam"]);
    }

    #[test]
    fn a_diff_marks_removed_and_added_lines() {
        assert_eq!(diff("same", "same"), "");
        assert_eq!(diff("a\nb\nc", "a\nB\nc\nd"), "  a\n- b\n+ B\n  c\n+ d\n");
        assert_eq!(diff("", "new"), "+ new\n");
        assert_eq!(diff("old", ""), "- old\n");
    }
}
