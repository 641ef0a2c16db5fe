//! Categories: a tree that articles are filed under.

use std::collections::HashMap;

use super::CategoryId;

docket_kit::mask_fields!(
    /// What an update of a category may change.
    pub enum CategoryField {
        Slug,
        Name,
        Description,
        ParentId,
        Position,
    }
);

/// Longest name and description, in characters.
pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 2_000;
/// Deepest tree a help center shows sensibly.
pub const MAX_DEPTH: usize = 6;

/// A category's fields as a command sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryFields {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub parent_id: Option<CategoryId>,
    pub position: i32,
}

/// Why a parent cannot be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParentRefusal {
    /// The category would end up under itself.
    Cycle,
    /// The tree would be deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// Whether `category` may move under `parent`, given every category's
/// current parent (`parents`, without `category`'s new one).
pub fn check_parent(
    category: CategoryId,
    parent: CategoryId,
    parents: &HashMap<CategoryId, Option<CategoryId>>,
) -> Result<(), ParentRefusal> {
    // Walk up from the new parent: meeting the category itself is a cycle.
    let mut depth = 1;
    let mut at = Some(parent);
    while let Some(node) = at {
        if node == category {
            return Err(ParentRefusal::Cycle);
        }
        depth += 1;
        if depth > MAX_DEPTH + 1 {
            return Err(ParentRefusal::TooDeep);
        }
        at = parents.get(&node).copied().flatten();
    }
    // ... and the category's own subtree hangs below it.
    if depth + subtree_height(category, parents) - 1 > MAX_DEPTH {
        return Err(ParentRefusal::TooDeep);
    }
    Ok(())
}

/// Levels in the subtree under `root`, counting `root` itself.
fn subtree_height(root: CategoryId, parents: &HashMap<CategoryId, Option<CategoryId>>) -> usize {
    let children: Vec<CategoryId> =
        parents.iter().filter(|(_, parent)| **parent == Some(root)).map(|(child, _)| *child).collect();
    1 + children.into_iter().map(|child| subtree_height(child, parents)).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use docket_kit::request::RecordId;

    use super::*;

    fn ids(n: usize) -> Vec<CategoryId> {
        (0..n).map(|_| CategoryId::generate()).collect()
    }

    #[test]
    fn a_category_cannot_move_under_itself_or_its_descendants() {
        let [a, b, c] = ids(3)[..] else { unreachable!() };
        // a > b > c
        let parents = HashMap::from([(a, None), (b, Some(a)), (c, Some(b))]);
        assert_eq!(check_parent(a, a, &parents), Err(ParentRefusal::Cycle));
        assert_eq!(check_parent(a, c, &parents), Err(ParentRefusal::Cycle));
        assert_eq!(check_parent(b, c, &parents), Err(ParentRefusal::Cycle));
        assert_eq!(check_parent(c, a, &parents), Ok(()));
    }

    #[test]
    fn the_tree_stays_at_most_six_levels_deep() {
        let chain = ids(MAX_DEPTH + 1);
        let mut parents: HashMap<CategoryId, Option<CategoryId>> = HashMap::new();
        parents.insert(chain[0], None);
        for pair in chain.windows(2).take(MAX_DEPTH - 2) {
            parents.insert(pair[1], Some(pair[0]));
        }
        // chain[0..MAX_DEPTH-1] is MAX_DEPTH-1 levels: one more fits, two do not.
        let leaf = chain[MAX_DEPTH - 2];
        let new = chain[MAX_DEPTH];
        parents.insert(new, None);
        assert_eq!(check_parent(new, leaf, &parents), Ok(()));
        let other = CategoryId::generate();
        parents.insert(other, Some(new));
        assert_eq!(check_parent(new, leaf, &parents), Err(ParentRefusal::TooDeep));
    }
}
