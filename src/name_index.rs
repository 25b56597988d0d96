//! Finding a profile by name among thousands without keeping a second copy of every name: the
//! positions of a list, sorted by the names found there. A lookup is a binary search; the index
//! costs 4 bytes a profile, where a `HashMap<String, usize>` costs a copy of each name and more.

#[derive(Debug, Clone, Default)]
pub struct NameIndex(Vec<u32>);

impl NameIndex {
    /// `names` in list order.
    pub fn new<'a>(names: impl Iterator<Item = &'a str>) -> NameIndex {
        let names: Vec<&str> = names.collect();
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_unstable_by_key(|&i| names[i as usize]);
        NameIndex(order)
    }

    /// The position of `name` in the list that `name_at` reads (the list the index was made from).
    pub fn find<'a>(&self, name: &str, name_at: impl Fn(usize) -> &'a str) -> Option<usize> {
        self.0
            .binary_search_by(|&i| name_at(i as usize).cmp(name))
            .ok()
            .map(|found| self.0[found] as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_name_and_nothing_else() {
        let names = ["zeta", "alpha", "team000-svc01", "mid", "team000-svc00"];
        let index = NameIndex::new(names.iter().copied());
        for (i, n) in names.iter().enumerate() {
            assert_eq!(index.find(n, |j| names[j]), Some(i), "{n}");
        }
        assert_eq!(index.find("beta", |j| names[j]), None);
        assert_eq!(NameIndex::default().find("x", |j| names[j]), None);
    }
}
