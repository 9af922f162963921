// A local task's output need not be Send, so neither is its JoinHandle:
// it cannot leave the set's thread.
use std::rc::Rc;

fn require_send<T: Send>(_: T) {}

fn main() {
    let local = gort::task::LocalSet::new();
    let h = local.spawn_local(async { Rc::new(1) });
    require_send(h);
}
