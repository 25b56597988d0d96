//! "What changed since": the dashboard's view of records changed by anyone, through the store's
//! stamps ([`TokenStore::store_stamp`], [`TokenStore::record_stamp`]).

use crate::config::Config;
use crate::store::{RecordMeta, Stamp, TokenStore};
use std::collections::HashMap;
use std::sync::Arc;

/// Notices records changed by anyone. Cheap when nothing changed: one store stamp (for the file
/// store, one `stat` of its directory, whose mtime moves on every atomic write: a rename into
/// it), and a read of each record the store refused last time (a `chmod` or an edit in place
/// moves no directory mtime, and the row must clear once its record is fixed).
pub struct StoreWatch {
    store: Arc<dyn TokenStore>,
    /// The profiles polled: the config's own list, not a copy of ten thousand names.
    config: Arc<Config>,
    store_stamp: Option<Stamp>,
    /// Per profile, in the config's order.
    record_stamps: Vec<Option<Stamp>>,
    /// The profiles (by index in the config) whose record was refused, with the words last
    /// reported; usually none.
    problems: HashMap<usize, String>,
    first: bool,
}

/// One record as a poll read it: `Ok(None)` when there is none, `Err` with the store's words
/// when the store refuses it.
pub type Polled = Result<Option<RecordMeta>, String>;

impl StoreWatch {
    pub fn new(store: Arc<dyn TokenStore>, config: Arc<Config>) -> StoreWatch {
        StoreWatch {
            store,
            record_stamps: vec![None; config.profiles.len()],
            config,
            store_stamp: None,
            problems: HashMap::new(),
            first: true,
        }
    }

    /// The records whose files changed since the last poll (all of them the first time), each
    /// reduced to its meta as soon as it is read; a refused record when it is first refused or
    /// its problem changes, and again as readable once it is.
    pub fn poll(&mut self) -> Vec<(String, Polled)> {
        let store_stamp = self.store.store_stamp();
        let store_changed = self.first || store_stamp != self.store_stamp;
        if !store_changed && self.problems.is_empty() {
            return Vec::new();
        }
        self.store_stamp = store_stamp;
        let first = std::mem::replace(&mut self.first, false);
        let to_read: Vec<usize> = if store_changed {
            (0..self.config.profiles.len()).collect()
        } else {
            let mut troubled: Vec<usize> = self.problems.keys().copied().collect();
            troubled.sort_unstable();
            troubled
        };
        let mut changes = Vec::new();
        for i in to_read {
            let name = &self.config.profiles[i].name;
            let stamp = self.store.record_stamp(name);
            let troubled = self.problems.contains_key(&i);
            if !first && !troubled && self.record_stamps[i] == stamp {
                continue;
            }
            self.record_stamps[i] = stamp;
            match self.store.load(name) {
                Ok(record) => {
                    self.problems.remove(&i);
                    let meta = record.as_ref().map(|r| RecordMeta {
                        unsynced: self.store.unsynced(name),
                        ..r.meta()
                    });
                    changes.push((name.clone(), Ok(meta)));
                }
                Err(e) => {
                    let problem = e.to_string();
                    if self.problems.get(&i) != Some(&problem) {
                        tracing::warn!(profile = name.as_str(), "cannot use the record: {problem}");
                        self.problems.insert(i, problem.clone());
                        changes.push((name.clone(), Err(problem)));
                    }
                }
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FileStore, TokenRecord};
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn config() -> Arc<Config> {
        let src = "[profiles.a]\nprovider = \"google\"\nclient_id = \"c\"\n\
                   [profiles.b]\nprovider = \"google\"\nclient_id = \"c\"\n";
        Arc::new(Config::parse(Path::new("p.toml"), src).unwrap())
    }

    fn names(polled: &[(String, Polled)]) -> Vec<(&str, bool)> {
        polled
            .iter()
            .map(|(n, r)| (n.as_str(), r.is_ok()))
            .collect()
    }

    #[test]
    fn a_refused_record_is_reported_once_and_again_as_soon_as_it_is_fixed() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = FileStore::open(tmp.path()).unwrap();
        store.save("a", &mut TokenRecord::default()).unwrap();
        let b = store.record_path("b");
        std::fs::write(&b, "not json").unwrap();
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut poller = StoreWatch::new(Arc::new(store.clone()), config());

        let first = poller.poll();
        assert_eq!(names(&first), [("a", true), ("b", false)]);
        let problem = first[1].1.clone().unwrap_err();
        assert!(
            problem.starts_with(&format!("{}: the token record is not valid", b.display())),
            "{problem}"
        );
        assert!(
            poller.poll().is_empty(),
            "the same problem is not sent again"
        );

        // Fixed in place: the directory's mtime does not move, the next poll still sees it.
        let dir_mtime = std::fs::metadata(tmp.path()).unwrap().modified().unwrap();
        std::fs::write(&b, r#"{"generation": 3}"#).unwrap();
        assert_eq!(
            std::fs::metadata(tmp.path()).unwrap().modified().unwrap(),
            dir_mtime
        );
        let fixed = poller.poll();
        assert_eq!(names(&fixed), [("b", true)]);
        assert_eq!(fixed[0].1.as_ref().unwrap().as_ref().unwrap().generation, 3);
        assert!(poller.poll().is_empty());

        // Replaced by a link that dangles: seen as a change of the path, and refused.
        std::fs::remove_file(&b).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &b).unwrap();
        let linked = poller.poll();
        assert_eq!(names(&linked), [("b", false)]);
        assert!(
            linked[0]
                .1
                .as_ref()
                .unwrap_err()
                .contains("is a symbolic link"),
            "{linked:?}"
        );
    }
}
