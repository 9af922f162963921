//! The execution tracer (`gort::runtime::trace`): a trace of a known
//! program parses as Chrome Trace Event JSON and holds exactly its spawns,
//! a poll slice per task on an M's and a P's track, its wakes and parks;
//! one trace at a time; a full buffer drops and says how many;
//! `GORT_DEBUG=trace=PATH` writes a complete file by the runtime's end.
//!
//! Tracing is process-wide, so the tests of this file take one lock each.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use gort::runtime::trace;
use serde_json::Value;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A writer the test can read after `stop`.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Buf {
    /// The trace, parsed; kept in the file `EXECTRACE_KEEP` names, if set,
    /// for a look in Perfetto.
    fn json(&self) -> Value {
        let bytes = self.0.lock().unwrap().clone();
        if let Some(path) = std::env::var_os("EXECTRACE_KEEP") {
            std::fs::write(path, &bytes).unwrap();
        }
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "the trace is not JSON ({e}):\n{}",
                String::from_utf8_lossy(&bytes)
            )
        })
    }
}

fn events(v: &Value) -> &Vec<Value> {
    v["traceEvents"]
        .as_array()
        .expect("traceEvents is an array")
}

fn named<'a>(v: &'a Value, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    events(v).iter().filter(move |e| e["name"] == name)
}

fn task_arg(e: &Value) -> u64 {
    e["args"]["task"].as_u64().expect("args.task is a u64")
}

#[test]
fn trace_of_a_known_program() {
    let _one = serial();
    let out = Buf::default();
    trace::start(out.clone()).unwrap();
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let ids: HashSet<u64> = rt.block_on(async {
        let (tx, rx) = gort::sync::chan::<u64>(0);
        let mut ids = HashSet::new();
        for i in 0..100u64 {
            let tx = tx.clone();
            let h = gort::spawn(async move {
                // Long enough that no timer fires before its task parks.
                gort::time::sleep(Duration::from_millis(10 + i % 5)).await;
                tx.send(i).await.unwrap();
            });
            ids.insert(h.id().as_u64());
        }
        let mut got = 0;
        while got < 100 {
            rx.recv().await.unwrap();
            got += 1;
        }
        ids
    });
    drop(rt);
    trace::stop().unwrap();
    let v = out.json();

    assert_eq!(v["otherData"]["dropped_events"], 0);
    // Exactly the 100 spawns, all from the `block_on` future (parent 0).
    let spawns: Vec<&Value> = named(&v, "spawn").collect();
    assert_eq!(spawns.len(), 100);
    let spawned: HashSet<u64> = spawns.iter().map(|e| task_arg(e)).collect();
    assert_eq!(spawned, ids);
    assert!(spawns.iter().all(|e| e["args"]["parent"] == 0));

    // A poll slice per task, on an M's track (pid 1) and a P's (pid 2).
    let mut slices: HashMap<(u64, u64), usize> = HashMap::new();
    for e in events(&v).iter().filter(|e| e["ph"] == "X") {
        let task = task_arg(e);
        let name = e["name"].as_str().unwrap();
        assert!(name.starts_with(&format!("task {task}")), "{name}");
        assert!(e["dur"].as_f64().unwrap() >= 0.0);
        *slices
            .entry((e["pid"].as_u64().unwrap(), task))
            .or_default() += 1;
    }
    for id in &ids {
        assert!(slices.contains_key(&(1, *id)), "no M slice for task {id}");
        assert!(slices.contains_key(&(2, *id)), "no P slice for task {id}");
    }

    // Each task parked on its sleep, its timer fired and woke it.
    let parked: HashSet<u64> = named(&v, "park")
        .filter(|e| e["args"]["reason"] == "sleep")
        .map(task_arg)
        .collect();
    assert_eq!(parked, ids);
    let woken: HashSet<u64> = named(&v, "wake").map(task_arg).collect();
    assert!(ids.is_subset(&woken), "a task without a wake");
    assert!(named(&v, "timer fired").count() >= 100);

    // Every track with events is named, and time starts at the trace's
    // start.
    let tracks: HashSet<(u64, u64)> = events(&v)
        .iter()
        .filter(|e| e["ph"] != "M")
        .map(|e| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
        .collect();
    let names: HashSet<(u64, u64)> = named(&v, "thread_name")
        .map(|e| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
        .collect();
    assert!(tracks.is_subset(&names), "{tracks:?} not all in {names:?}");
    assert!(events(&v)
        .iter()
        .filter_map(|e| e["ts"].as_f64())
        .all(|ts| ts >= 0.0));
}

#[test]
fn named_task_slices_carry_the_name() {
    let _one = serial();
    let out = Buf::default();
    trace::start(out.clone()).unwrap();
    let rt = gort::Runtime::new().unwrap();
    rt.block_on(async {
        gort::task::Builder::new()
            .name("worker \"a\"")
            .spawn(async {})
            .await
            .unwrap();
    });
    drop(rt);
    trace::stop().unwrap();
    let v = out.json();
    let slice = events(&v)
        .iter()
        .find(|e| e["ph"] == "X")
        .expect("a poll slice");
    assert_eq!(
        slice["name"].as_str().unwrap(),
        format!("task {} worker \"a\"", task_arg(slice))
    );
}

/// `stop` while a traced poll runs on an M waits for that poll's slice
/// (Go's `StopTrace` stops the world first): the poll that completes an
/// awaited task wakes its awaiter before the M records it, so without the
/// wait `spawn(..).await; stop()` could lose the only slice. Here the poll
/// is still running, by construction, when `stop` is called: the task
/// says it started, then blocks its M for 20 ms.
#[test]
fn stop_waits_for_a_poll_in_flight() {
    let _one = serial();
    let out = Buf::default();
    trace::start(out.clone()).unwrap();
    let rt = gort::Builder::new().procs(1).build().unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let h = gort::task::Builder::new().name("in flight").spawn_on(
        async move {
            started_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        },
        &rt.handle(),
    );
    started_rx.recv().unwrap();
    trace::stop().unwrap();
    rt.block_on(h).unwrap();
    let v = out.json();
    let slices: Vec<&Value> = events(&v)
        .iter()
        .filter(|e| e["ph"] == "X" && e["pid"] == 1)
        .filter(|e| {
            e["name"]
                .as_str()
                .is_some_and(|n| n.ends_with(" in flight"))
        })
        .collect();
    assert_eq!(slices.len(), 1, "the poll in flight at stop is recorded");
    let dur_us = slices[0]["dur"].as_f64().unwrap();
    assert!(dur_us >= 20_000.0, "its whole length: {dur_us} µs");
    assert_eq!(v["otherData"]["dropped_events"], 0);
}

#[test]
fn one_trace_at_a_time() {
    let _one = serial();
    let err = trace::stop().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    trace::start(io::sink()).unwrap();
    let err = trace::start(io::sink()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<trace::TraceError>());
    assert_eq!(inner, Some(&trace::TraceError::AlreadyTracing));
    trace::stop().unwrap();
    assert!(trace::stop().is_err());
    // And again, after a stop.
    trace::start(io::sink()).unwrap();
    trace::stop().unwrap();
}

#[test]
fn a_full_buffer_drops_and_reports() {
    let _one = serial();
    const N: u64 = 20_000;
    let out = Buf::default();
    trace::start(out.clone()).unwrap();
    let rt = gort::Builder::new().procs(1).build().unwrap();
    rt.block_on(async {
        // One poll, N spawn events on this thread: no flush between polls
        // can come, so its buffer fills.
        let hs: Vec<_> = (0..N).map(|_| gort::spawn(async {})).collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    drop(rt);
    trace::stop().unwrap();
    let v = out.json();
    let spawns = named(&v, "spawn").count() as u64;
    let dropped = v["otherData"]["dropped_events"].as_u64().unwrap();
    assert!(spawns < N, "{spawns} spawns kept: the buffer did not fill");
    assert!(dropped > 0);
    assert!(
        spawns + dropped >= N,
        "{spawns} kept + {dropped} dropped < {N}"
    );
}

#[test]
fn gort_debug_trace_writes_a_complete_file() {
    if std::env::var_os("EXECTRACE_CHILD").is_some() {
        // The child: a runtime built under GORT_DEBUG=trace=PATH.
        let rt = gort::Runtime::new().unwrap();
        // Tracing already runs: start() is refused.
        assert!(trace::start(io::sink()).is_err());
        rt.block_on(async {
            gort::spawn(async {}).await.unwrap();
        });
        drop(rt);
        return;
    }
    let _one = serial();
    let path = std::env::temp_dir().join(format!("gort-exectrace-{}.json", std::process::id()));
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "gort_debug_trace_writes_a_complete_file",
            "--nocapture",
        ])
        .env("EXECTRACE_CHILD", "1")
        .env("GORT_DEBUG", format!("trace={}", path.display()))
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let v: Value = serde_json::from_slice(&bytes).expect("the file is complete JSON");
    assert_eq!(named(&v, "spawn").count(), 1);
    assert!(events(&v).iter().any(|e| e["ph"] == "X"));
}

#[test]
fn events_of_a_thread_that_exited_are_kept() {
    let _one = serial();
    let out = Buf::default();
    trace::start(out.clone()).unwrap();
    let rt = gort::Runtime::new().unwrap();
    let handle = rt.handle();
    let id = std::thread::Builder::new()
        .name("spawner".into())
        .spawn(move || handle.spawn(async {}).id().as_u64())
        .unwrap()
        .join()
        .unwrap();
    drop(rt);
    trace::stop().unwrap();
    let v = out.json();
    let spawn = named(&v, "spawn")
        .find(|e| task_arg(e) == id)
        .expect("the exited thread's spawn");
    let tid = spawn["tid"].as_u64().unwrap();
    assert!(tid >= trace::THREAD_TID_BASE);
    assert!(named(&v, "thread_name").any(|e| e["tid"] == tid && e["args"]["name"] == "spawner"));
}
