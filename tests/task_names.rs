//! `gort::task::Builder::name`: a task's name shows in the goroutine dump
//! and in the `tracing` span of each of its polls.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use gort::sync::chan;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records the `task.name` of every `poll` span in [`NAMES`].
struct PollSpans {
    next: AtomicU64,
}

static NAMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct NameField<'a>(&'a mut Option<String>);

impl Visit for NameField<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "task.name" {
            *self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl Subscriber for PollSpans {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.name() == "poll"
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut name = None;
        attrs.record(&mut NameField(&mut name));
        if let Some(n) = name {
            NAMES.lock().unwrap().push(n);
        }
        Id::from_u64(self.next.fetch_add(1, Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_named_task_shows_in_the_dump_and_in_its_poll_spans() {
    tracing::subscriber::set_global_default(PollSpans {
        next: AtomicU64::new(0),
    })
    .unwrap();
    let rt = gort::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let (tx, rx) = chan::<u32>(0);
        let h = gort::task::Builder::new()
            .name("conn-42")
            .spawn(async move { rx.recv().await.unwrap() + 1 });
        // Wait until it parks in its receive, then read the dump.
        let dump = loop {
            let d = gort::runtime::dump();
            if d.contains("[chan receive") {
                break d;
            }
            gort::yield_now().await;
        };
        let line = dump
            .lines()
            .find(|l| l.contains("conn-42"))
            .unwrap_or_else(|| panic!("no named task in the dump:\n{dump}"));
        assert!(
            line.starts_with(&format!("goroutine {} [chan receive, ", h.id())),
            "{line}"
        );
        assert!(line.ends_with("] conn-42:"), "{line}");
        // An unnamed task has no name after its state.
        let plain = gort::spawn(std::future::pending::<()>());
        gort::yield_now().await;
        let dump = gort::runtime::dump();
        let line = dump
            .lines()
            .find(|l| l.starts_with(&format!("goroutine {} [", plain.id())))
            .unwrap();
        assert!(line.ends_with("]:"), "{line}");
        plain.abort();
        tx.send(1).await.unwrap();
        assert_eq!(h.await.unwrap(), 2);
    });
    let names = NAMES.lock().unwrap();
    // Polled at least twice: once to park, once after the send.
    assert!(
        names.iter().filter(|n| *n == "conn-42").count() >= 2,
        "{names:?}"
    );
}
