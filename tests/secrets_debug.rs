//! `Debug` output never shows a secret: the record, the config, the dashboard state, the
//! engine's errors. (The commands' stdout, stderr and log are covered in mock_faults.rs.)

use std::path::Path;
use tokdash::config::Config;
use tokdash::secret::Secret;
use tokdash::store::TokenRecord;

const SECRETS: [&str; 4] = ["AT-dbg-7f3a", "RT-dbg-7f3a", "ID-dbg-7f3a", "CS-dbg-7f3a"];

#[test]
fn debug_output_of_everything_holding_secrets_is_redacted() {
    let record = TokenRecord {
        access_token: Some(Secret::new(SECRETS[0])),
        refresh_token: Some(Secret::new(SECRETS[1])),
        id_token: Some(Secret::new(SECRETS[2])),
        ..Default::default()
    };
    let src = format!(
        "[profiles.p]\nprovider = \"google\"\nclient_id = \"c\"\nclient_secret = \"{}\"\n",
        SECRETS[3]
    );
    let config = Config::parse(Path::new("p.toml"), &src).unwrap();
    let mut state = tokdash::app::State::new(&config, 0, 80, 24);
    tokdash::app::update(
        &mut state,
        tokdash::app::Msg::worker(tokdash::app::WorkerEvent::StoreChanged(vec![(
            "p".into(),
            Some(record.clone()),
        )])),
    );
    let dumps = [
        format!("{record:?}"),
        format!("{record:#?}"),
        format!("{config:?}"),
        format!("{state:?}"),
    ];
    for dump in &dumps {
        for s in SECRETS {
            assert!(!dump.contains(s), "{s} in {dump}");
        }
    }
    assert!(dumps[0].contains("Secret(<redacted>)"));
}
