//! Dashboard costs that grow with the number of profiles, with ratatui's TestBackend at 120x30:
//!
//! - `render/N`: one frame (`ui::render` + ratatui's diff) after a tick, so the countdown
//!   columns really change, as they do once a second in the dashboard;
//! - `tick/N`: `app::update` for one `Msg::Tick` (auto-refresh scan, store poll request);
//! - `load_store/N`: applying the first store poll (every record, as the metas the worker makes
//!   of them) to the state;
//! - `config_parse/N`: parsing `profiles.toml`, on the path to the first frame.
//!
//! Profiles and token sizes match bench/gen_profiles.py; the state holds no token values (the
//! rows keep metas), so the sizes only shape the records the metas are made from. Run:
//! `cargo bench --bench render`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;
use std::path::Path;
use tokdash::app::{Msg, State, WorkerEvent, update};
use tokdash::config::Config;
use tokdash::secret::Secret;
use tokdash::store::RecordMeta;
use tokdash::store::TokenRecord;

const NOW: i64 = 1_700_000_000;
const SIZES: [usize; 3] = [100, 1_000, 10_000];

/// (provider, extra keys, access / refresh / id token lengths), as in gen_profiles.py.
const KINDS: [(&str, &str, [usize; 3]); 4] = [
    ("google", "", [220, 103, 1000]),
    (
        "microsoft",
        "tenant = \"contoso.onmicrosoft.com\"\n",
        [2000, 1100, 1300],
    ),
    (
        "auth0",
        "domain = \"example.eu.auth0.com\"\n",
        [900, 48, 1000],
    ),
    (
        "oauth2",
        "token_url = \"https://auth.example.com/token\"\n",
        [43, 43, 0],
    ),
];

fn name(i: usize) -> String {
    format!("team{:03}-svc{:02}", i / 100, i % 100)
}

fn config_text(n: usize) -> String {
    (0..n)
        .map(|i| {
            let (kind, extra, _) = KINDS[i % KINDS.len()];
            format!(
                "[profiles.{}]\nprovider = \"{kind}\"\n{extra}client_id = \"client-{i}\"\nclient_secret_env = \"BENCH_SECRET\"\n\n",
                name(i)
            )
        })
        .collect()
}

/// A cheap deterministic generator: the values only need the right length and some spread.
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// The first store poll's answer: each record read, then reduced to its meta, as the worker does.
fn records(n: usize) -> Vec<(String, Option<RecordMeta>)> {
    let mut seed = 1u64;
    (0..n)
        .map(|i| {
            let [at, rt, id] = KINDS[i % KINDS.len()].2;
            let token = |len: usize| Some(Secret::new("x".repeat(len))).filter(|_| len > 0);
            let record = TokenRecord {
                access_token: token(at),
                refresh_token: token(rt),
                id_token: token(id),
                token_type: Some("Bearer".into()),
                scope: Some("openid email offline_access".into()),
                expires_at: Some(NOW + 1800 + (lcg(&mut seed) % 5400) as i64),
                obtained_at: Some(NOW - 600),
                last_refresh: Some(NOW - 60 - (lcg(&mut seed) % 3540) as i64),
                generation: 1,
                ..Default::default()
            };
            (name(i), Some(record.meta()))
        })
        .collect()
}

fn config(n: usize) -> Config {
    Config::parse(
        Path::new("/home/ops/.config/tokdash/profiles.toml"),
        &config_text(n),
    )
    .unwrap()
}

fn loaded_state(n: usize) -> State {
    let mut state = State::new(&config(n), NOW, 120, 30);
    update(
        &mut state,
        Msg::worker(WorkerEvent::StoreChanged(records(n))),
    );
    state
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    for n in SIZES {
        let mut state = loaded_state(n);
        let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                state.now += 1;
                terminal
                    .draw(|frame| tokdash::ui::render(frame, black_box(&state)))
                    .unwrap();
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("tick");
    for n in SIZES {
        let mut state = loaded_state(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let now = state.now + 1;
                black_box(update(&mut state, Msg::Tick(now)))
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("load_store");
    group.sample_size(20);
    for n in SIZES {
        let fresh = State::new(&config(n), NOW, 120, 30);
        let recs = records(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_batched(
                || (fresh.clone(), recs.clone()),
                |(mut state, recs)| {
                    update(&mut state, Msg::worker(WorkerEvent::StoreChanged(recs)));
                    state
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group("config_parse");
    group.sample_size(20);
    for n in SIZES {
        let text = config_text(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| Config::parse(Path::new("/p.toml"), black_box(&text)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
