//! The config's sections by byte range, remembered between runs, so that a command that uses one
//! profile (`token`, the credential helpers) parses that profile and the shared sections only,
//! instead of the whole file: with 1,000 profiles, parsing the file is nine tenths of `token`.
//!
//! The index promises nothing by itself: it is written only after the whole file was parsed
//! and validated, it is keyed by a hash of the file's bytes and of the tokdash binary (a new
//! build may read the file differently), and each profile's section was checked, when the index
//! was made, to parse (with the shared sections) to exactly what the whole file gives for that
//! profile. A section that fails that check (a profile defined by dotted keys elsewhere, say) is
//! left out, and a command that uses it parses the whole file, as does any miss or doubt.
//!
//! Hand-written rather than a serialized `Config`: it stores byte ranges only, so no client
//! secret written in the config is copied into the cache.

use super::raw::RawConfig;
use std::hash::Hasher;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The first line of an index file; a new layout gets a new number.
const MAGIC: &str = "tokdash-config-index 1";

/// Where a config file's sections are: the shared ones (the text before the first header,
/// `[settings]`, any other top-level table) and one per `[profiles.NAME]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sections {
    pub shared: Vec<Range<usize>>,
    pub profiles: Vec<(String, Range<usize>)>,
}

impl Sections {
    /// Splits a config at its table headers. `None` where the file is not made of plain
    /// `[table]` sections (an array of tables, or profiles as inline tables under `[profiles]`):
    /// such a file is always parsed whole.
    pub fn split(source: &str) -> Option<Sections> {
        let mut sections = Sections::default();
        // The section being read: its start and, for a profile, its name.
        let mut current: (usize, Option<String>) = (0, None);
        let mut offset = 0;
        for line in source.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let Some(header) = Header::read(line)? else {
                continue;
            };
            sections.close(current, start);
            current = (start, header.profile);
        }
        sections.close(current, source.len());
        Some(sections)
    }

    fn close(&mut self, (start, profile): (usize, Option<String>), end: usize) {
        match profile {
            Some(name) => self.profiles.push((name, start..end)),
            None if start < end => self.shared.push(start..end),
            None => {}
        }
    }

    /// The text of the shared sections and of the named profiles' sections, as one document.
    /// `None` when a name has no section of its own.
    pub fn document(&self, source: &str, names: &[&str]) -> Option<String> {
        let mut text = String::new();
        for range in &self.shared {
            push_section(&mut text, source.get(range.clone())?);
        }
        for name in names {
            let (_, range) = self.profiles.iter().find(|(n, _)| n == name)?;
            push_section(&mut text, source.get(range.clone())?);
        }
        Some(text)
    }

    /// Keeps only the profiles whose section, read with the shared ones, gives what the whole
    /// file gives (`whole` is the whole file, parsed).
    fn keep_faithful(&mut self, source: &str, whole: &RawConfig) {
        let shared = self.document(source, &[]).unwrap_or_default();
        let faithful = |name: &str, range: &Range<usize>| -> bool {
            let Some(section) = source.get(range.clone()) else {
                return false;
            };
            let mut text = shared.clone();
            push_section(&mut text, section);
            let Ok(alone) = toml::from_str::<RawConfig>(&text) else {
                return false;
            };
            whole.same_shared(&alone)
                && alone.profiles.len() == 1
                && whole
                    .profile(name)
                    .is_some_and(|p| alone.profile(name) == Some(p))
        };
        self.profiles.retain(|(name, range)| faithful(name, range));
    }
}

/// Sections are joined with a line break, in case one does not end with its own.
fn push_section(text: &mut String, section: &str) {
    text.push_str(section);
    if !section.ends_with('\n') {
        text.push('\n');
    }
}

/// A table header line, as TOML reads it.
struct Header {
    /// `Some(NAME)` for `[profiles.NAME]`.
    profile: Option<String>,
}

impl Header {
    /// `Ok(None)` for a line that is no header (a key, a comment, a line inside a multi-line
    /// string that merely starts with `[`); `None` (give up) for a header the index cannot
    /// place: an array of tables, or `[profiles]` itself.
    fn read(line: &str) -> Option<Option<Header>> {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('[') {
            return Some(None);
        }
        // The header alone is a valid document; a line that does not parse as one is part of
        // a value (a multi-line string or array), not a header.
        let Ok(table) = line.parse::<toml::Table>() else {
            return Some(None);
        };
        if trimmed.starts_with("[[") {
            return None;
        }
        let (top, inner) = table.iter().next()?;
        if top != "profiles" {
            return Some(Some(Header { profile: None }));
        }
        let inner = inner.as_table()?;
        let (name, body) = inner.iter().next()?;
        // `[profiles.NAME.more]` would be an unknown key; leave such a file to the parser.
        if !body.as_table().is_some_and(|t| t.is_empty()) {
            return None;
        }
        Some(Some(Header {
            profile: Some(name.clone()),
        }))
    }
}

/// The index file of one config, in the user's cache directory.
pub struct IndexFile {
    path: PathBuf,
    key: u64,
}

impl IndexFile {
    /// The index of the config at `config` with these bytes, in `dir`.
    pub fn new(dir: &Path, config: &Path, source: &str) -> IndexFile {
        let mut name = fnv::FnvHasher::default();
        name.write(config.as_os_str().as_encoded_bytes());
        let mut key = fnv::FnvHasher::default();
        key.write(MAGIC.as_bytes());
        key.write(binary_identity().as_bytes());
        key.write(config.as_os_str().as_encoded_bytes());
        key.write(source.as_bytes());
        IndexFile {
            path: dir.join(format!("{:016x}", name.finish())),
            key: key.finish(),
        }
    }

    /// The sections, when the index was made from these very bytes by this very binary.
    pub fn read(&self) -> Option<Sections> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let mut lines = text.lines();
        if lines.next()? != MAGIC || lines.next()? != format!("key {:016x}", self.key) {
            return None;
        }
        let mut sections = Sections::default();
        for line in lines {
            let mut words = line.split(' ');
            let kind = words.next()?;
            let name = if kind == "profile" {
                Some(words.next()?.to_string())
            } else {
                None
            };
            let start: usize = words.next()?.parse().ok()?;
            let end: usize = words.next()?.parse().ok()?;
            match (kind, name) {
                ("shared", None) => sections.shared.push(start..end),
                ("profile", Some(name)) => sections.profiles.push((name, start..end)),
                _ => return None,
            }
        }
        Some(sections)
    }

    /// The sections of a config that was parsed whole (`whole`), each profile's checked.
    pub fn sections_of(source: &str, whole: &RawConfig) -> Option<Sections> {
        let mut sections = Sections::split(source)?;
        sections.keep_faithful(source, whole);
        Some(sections)
    }

    /// Writes the index of a config that was parsed and validated, atomically (a reader sees
    /// the old index or the new one). Failing to write only costs the next command a whole
    /// parse, so errors are logged, not returned.
    pub fn write(&self, sections: &Sections) {
        let mut text = format!("{MAGIC}\nkey {:016x}\n", self.key);
        for range in &sections.shared {
            text.push_str(&format!("shared {} {}\n", range.start, range.end));
        }
        for (name, range) in &sections.profiles {
            text.push_str(&format!("profile {name} {} {}\n", range.start, range.end));
        }
        if let Err(e) = write_private(&self.path, text.as_bytes()) {
            tracing::debug!("config index {}: not written: {e}", self.path.display());
        }
    }
}

/// The running binary, by its size and modification time: a rebuilt tokdash may read the same
/// config differently (a new key, a new check), so its index is its own.
fn binary_identity() -> String {
    let meta = std::env::current_exe().and_then(std::fs::metadata);
    match meta {
        Ok(m) => {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{} {} {modified}", env!("CARGO_PKG_VERSION"), m.len())
        }
        Err(_) => format!("{} unknown", env!("CARGO_PKG_VERSION")),
    }
}

/// A temporary file beside the index, renamed over it; the directory is the user's alone.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"# a comment before any table
[settings]
refresh_ahead = "2m"

[profiles.a]
provider = "oauth2"
token_url = "https://auth.example.com/token"
client_id = "a"

[profiles."b.c"]   # a quoted name
provider = "oauth2"
token_url = "https://auth.example.com/token"
client_id = "b"
scopes = [
  "one",
  "two",
]
"#;

    fn whole(source: &str) -> RawConfig {
        toml::from_str(source).unwrap()
    }

    fn faithful_names(source: &str) -> Vec<String> {
        let mut sections = Sections::split(source).unwrap();
        sections.keep_faithful(source, &whole(source));
        sections.profiles.into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn a_profile_alone_reads_as_in_the_whole_file() {
        let sections = Sections::split(CONFIG).unwrap();
        assert_eq!(sections.profiles.len(), 2);
        assert_eq!(sections.profiles[1].0, "b.c");
        let text = sections.document(CONFIG, &["b.c"]).unwrap();
        let alone: RawConfig = toml::from_str(&text).unwrap();
        let all = whole(CONFIG);
        assert!(all.same_shared(&alone));
        assert_eq!(alone.profiles.len(), 1);
        assert_eq!(alone.profile("b.c"), all.profile("b.c"));
        assert_eq!(faithful_names(CONFIG), ["a", "b.c"]);
    }

    #[test]
    fn a_table_after_the_profiles_is_shared_by_every_profile() {
        let source = format!("{CONFIG}\n[store]\nbackend = \"files\"\n");
        let sections = Sections::split(&source).unwrap();
        let text = sections.document(&source, &["a"]).unwrap();
        assert!(text.contains("[store]") && !text.contains("client_id = \"b\""));
        assert_eq!(faithful_names(&source), ["a", "b.c"]);
    }

    #[test]
    fn a_name_without_a_section_of_its_own_is_not_found() {
        let sections = Sections::split(CONFIG).unwrap();
        assert!(sections.document(CONFIG, &["missing"]).is_none());
    }

    #[test]
    fn profiles_defined_among_the_shared_keys_leave_nothing_indexed() {
        // `c` is made by dotted keys before any header: every document made from the shared
        // text would carry it, so no profile reads alone as in the whole file.
        let source = format!(
            "profiles.c.provider = \"google\"\nprofiles.c.client_id = \"c\"\n{}",
            &CONFIG[CONFIG.find("[settings]").unwrap()..]
        );
        assert!(whole(&source).profile("c").is_some());
        assert_eq!(faithful_names(&source), Vec::<String>::new());
    }

    #[test]
    fn a_header_inside_a_multi_line_string_cuts_no_section_that_is_kept() {
        // The line looks like a header on its own; the two sections it seems to cut are
        // incomplete, fail the check, and are left to the whole parse.
        let source = CONFIG.replace(
            "client_id = \"a\"\n",
            "client_id = \"a\"\naudience = \"\"\"\n[profiles.fake]\n\"\"\"\n",
        );
        assert!(whole(&source).profile("fake").is_none());
        assert_eq!(faithful_names(&source), ["b.c"]);
    }

    #[test]
    fn profiles_as_inline_tables_are_not_indexed() {
        let source = "[profiles]\na = { provider = \"google\", client_id = \"x\" }\n";
        assert!(Sections::split(source).is_none());
    }

    #[test]
    fn the_index_is_read_back_only_for_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("profiles.toml");
        let index = IndexFile::new(dir.path(), &config, CONFIG);
        index.write(&IndexFile::sections_of(CONFIG, &whole(CONFIG)).unwrap());
        let read = index.read().unwrap();
        assert_eq!(read.profiles.len(), 2);
        assert_eq!(
            read.document(CONFIG, &["a"]),
            Sections::split(CONFIG).unwrap().document(CONFIG, &["a"])
        );

        let edited = CONFIG.replace("\"2m\"", "\"3m\"");
        assert!(
            IndexFile::new(dir.path(), &config, &edited)
                .read()
                .is_none()
        );
        let elsewhere = dir.path().join("other.toml");
        assert!(
            IndexFile::new(dir.path(), &elsewhere, CONFIG)
                .read()
                .is_none()
        );
    }
}
