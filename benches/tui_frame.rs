//! Time per frame of the sending screen with 1,000,000 rows, rendered into a TestBackend.
//!
//! Run: `cargo bench --bench tui_frame` (ROWS=N to change the size).

mod common;

use std::sync::Arc;
use std::time::Instant;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::widgets::Paragraph;
use ratatui::Terminal;
use wxsend::campaign::config::CampaignConfig;
use wxsend::campaign::Campaign;
use wxsend::engine::{Counters, Event, RowEvent};
use wxsend::journal::RowRecord;
use wxsend::tui::{ui, App, Briefing};

fn main() {
    let rows: usize = std::env::var("ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let frames = 300;
    let dir = tempfile::tempdir().expect("temp dir");
    let toml = common::generate(dir.path(), rows);
    let campaign = Campaign::from_config(CampaignConfig::load(&toml).expect("campaign")).expect("load");
    let n = campaign.recipients.len();
    let brief = Briefing::of(&campaign, n);
    let mut app = App::new(Arc::new(campaign), &vec![RowRecord::Pending; n], brief);
    app.started();
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();

    // Baseline in the same run: a frame with one paragraph.
    let t = Instant::now();
    for _ in 0..frames {
        term.draw(|f| f.render_widget(Paragraph::new("baseline"), f.area())).unwrap();
    }
    let base = t.elapsed().as_secs_f64() / frames as f64;

    let t = Instant::now();
    let mut events = 0;
    for i in 0..frames {
        // Each frame: a batch of engine events (as at ~2,000 msg/s and 20 frames/s) and a scroll.
        let start = (i * 100) % n;
        let batch: Vec<RowEvent> = (start..(start + 100).min(n))
            .flat_map(|r| {
                [RowEvent::Started { row: r, attempt: 1 }, RowEvent::Delivered { row: r, attempt: 1, msgid: None }]
            })
            .collect();
        events += batch.len();
        app.on_event(&Event::Rows(batch));
        app.on_event(&Event::Progress(Counters {
            total: n,
            delivered: start,
            requests: start as u64,
            elapsed_ms: i as u64 * 50,
            rate_limit: 2000,
            ..Default::default()
        }));
        app.on_key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE));
        term.draw(|f| ui::draw(f, &app)).unwrap();
    }
    let per_frame = t.elapsed().as_secs_f64() / frames as f64;
    println!("rows              {n}");
    println!("frames            {frames} at 120x40 (+ {events} row events)");
    println!("baseline frame    {:.3} ms (one paragraph)", base * 1000.0);
    println!(
        "sending frame     {:.3} ms ({:.1}x the baseline; target < 5 ms)",
        per_frame * 1000.0,
        per_frame / base.max(1e-9)
    );
}
