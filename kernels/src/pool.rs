//! Where the kernels' parallel work runs: rayon's pool natively; in the threaded browser engine
//! (the `threads` feature) a fork-join pool of its own; one after the other in the one-thread
//! browser engine.
//!
//! Why not rayon in the browser: rayon's idle threads sleep on a condition variable at once
//! (`yield_now` does nothing there), and waking a Web Worker that waits in `Atomics.wait` takes
//! longer than most of EfficientNet-Lite0's products take on one thread, so a single prediction
//! gained nothing from a second thread (29.9 against 30.6 ms in Chromium on 2 cores). Here the
//! caller works on its own call as one of the threads, and the pool's workers spin for a while
//! after each call before they sleep, so that the calls of one prediction, a fraction of a
//! millisecond apart, find them awake.

/// How many threads a parallel call is split over: natively rayon's (the machine's cores); in
/// the threaded browser engine the pool's workers and the caller, once the pool is started (1
/// before); 1 in the one-thread browser engine.
pub fn threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    return rayon::current_num_threads();
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    return web::threads();
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    1
}

/// Runs `f(i)` for every `i` in `0..tasks`, on [`threads`] threads (the caller among them), and
/// returns when all have run.
pub fn for_each(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    if tasks <= 1 || threads() <= 1 {
        (0..tasks).for_each(f);
        return;
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..tasks).into_par_iter().for_each(f);
    }
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    web::for_each(tasks, f);
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    (0..tasks).for_each(f);
}

/// Wakes the threaded browser engine's sleeping workers (they then spin, waiting for calls, as
/// after a call), so that the first parallel call of work about to start finds them awake:
/// between two predictions they may have gone to sleep, and waking one there took longer than
/// the first convolution's share. Does nothing elsewhere.
pub fn wake() {
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    web::wake();
}

/// Runs `f(i, chunk)` for the `chunk`-long pieces of `data` (the last may be shorter), in
/// parallel as [`for_each`].
pub fn for_each_chunk_mut<T: Send>(
    data: &mut [T],
    chunk: usize,
    f: &(dyn Fn(usize, &mut [T]) + Sync),
) {
    assert!(chunk > 0, "for_each_chunk_mut: chunk is 0");
    let len = data.len();
    let base = Shared::new(data.as_mut_ptr());
    for_each(len.div_ceil(chunk), &|i| {
        let start = i * chunk;
        let end = (start + chunk).min(len);
        // SAFETY: every task gets its own range `start..end` of `data` (which outlives the
        // call), so no two slices overlap.
        let piece = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), end - start) };
        f(i, piece);
    });
}

/// Runs `f` on each of `items`, in parallel as [`for_each`].
pub fn for_each_owned<T: Send>(items: Vec<T>, f: &(dyn Fn(T) + Sync)) {
    let slots: Vec<std::sync::Mutex<Option<T>>> = items
        .into_iter()
        .map(|t| std::sync::Mutex::new(Some(t)))
        .collect();
    for_each(slots.len(), &|i| {
        // Each slot is taken once, by its own task: the lock is never contended.
        let item = slots[i].lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(item) = item {
            f(item);
        }
    });
}

/// A pointer the tasks of one call share (each uses its own part of what it points to).
pub(crate) struct Shared<T>(*mut T);

impl<T> Shared<T> {
    /// Shares `p` with the tasks of one call.
    pub(crate) fn new(p: *mut T) -> Self {
        Shared(p)
    }

    /// The pointer.
    pub(crate) fn get(&self) -> *mut T {
        self.0
    }
}

// SAFETY: the tasks write disjoint ranges (see `for_each_chunk_mut`), and `T: Send`.
unsafe impl<T: Send> Sync for Shared<T> {}

#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub use web::{on_worker, run_worker, start, stopped_flag};

/// The browser's fork-join pool over shared memory.
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
mod web {
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{Condvar, Mutex};

    /// How many times an idle worker checks for a new call before it sleeps: about 2 ms.
    const SPINS: usize = 1 << 20;

    /// The call being run: its task function (with its lifetime erased) and task count.
    #[derive(Clone, Copy)]
    struct Call {
        f: *const (dyn Fn(usize) + Sync),
        tasks: usize,
    }

    struct Pool {
        /// Odd while a call is open to the workers, even between calls; it only grows.
        epoch: AtomicUsize,
        /// The open call (written only while the epoch is even and no worker is in a call).
        call: UnsafeCell<Call>,
        /// The next task to take, and the tasks finished, of the open call.
        next: AtomicUsize,
        done: AtomicUsize,
        /// Workers inside the open call (they may still read `call`).
        inside: AtomicUsize,
        /// Workers started, and workers asleep (on `wake`).
        workers: AtomicUsize,
        sleeping: AtomicUsize,
        /// Raised by [`wake`] to send the sleeping workers back to spinning.
        nudge: AtomicUsize,
        lock: Mutex<()>,
        wake: Condvar,
        /// One caller at a time (the engine has one thread that calls in).
        caller: Mutex<()>,
        /// Set (by the worker's JS, through [`stopped_flag`]) when a worker stopped on a trap:
        /// its tasks will never finish, so a caller waiting for them panics instead of hanging.
        stopped: AtomicUsize,
    }

    // SAFETY: `call` is written by the one caller (under `caller`) only while no worker can read
    // it (epoch even, `inside` 0), and read by workers only while the epoch is odd.
    unsafe impl Sync for Pool {}

    fn nothing(_: usize) {}

    static POOL: Pool = Pool {
        epoch: AtomicUsize::new(0),
        call: UnsafeCell::new(Call {
            f: &nothing as &(dyn Fn(usize) + Sync),
            tasks: 0,
        }),
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        inside: AtomicUsize::new(0),
        workers: AtomicUsize::new(0),
        sleeping: AtomicUsize::new(0),
        nudge: AtomicUsize::new(0),
        lock: Mutex::new(()),
        wake: Condvar::new(),
        caller: Mutex::new(()),
        stopped: AtomicUsize::new(0),
    };

    thread_local! {
        static ON_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Whether this thread is one of the pool's workers.
    pub fn on_worker() -> bool {
        ON_WORKER.with(|w| w.get())
    }

    /// The address of the pool's "a worker stopped" flag (a 32-bit word in the shared memory):
    /// a worker's JS sets it to 1 when the worker traps (a panic or running out of memory in a
    /// task), and a caller waiting on that worker's tasks then panics with a message.
    pub fn stopped_flag() -> usize {
        &POOL.stopped as *const AtomicUsize as usize
    }

    /// Panics when a worker has stopped (see [`stopped_flag`]).
    fn check_workers() {
        if POOL.stopped.load(SeqCst) != 0 {
            panic!("a thread of the engine's pool stopped on an internal error (a panic or out of memory)");
        }
    }

    /// Threads in a call: the started workers and the caller.
    pub fn threads() -> usize {
        POOL.workers.load(SeqCst) + 1
    }

    /// Declares `workers` workers started (each runs [`run_worker`]); calls from then on are
    /// split over them and the caller.
    pub fn start(workers: usize) {
        POOL.workers.store(workers, SeqCst);
    }

    /// See [`super::wake`].
    pub fn wake() {
        if POOL.sleeping.load(SeqCst) > 0 {
            POOL.nudge.fetch_add(1, SeqCst);
            let _g = POOL.lock.lock().unwrap_or_else(|p| p.into_inner());
            POOL.wake.notify_all();
        }
    }

    /// Takes and runs tasks of the open call until none is left.
    fn work(call: Call) {
        loop {
            let i = POOL.next.fetch_add(1, SeqCst);
            if i >= call.tasks {
                return;
            }
            // SAFETY: the caller keeps `f` alive until every task is done.
            unsafe { (*call.f)(i) };
            POOL.done.fetch_add(1, SeqCst);
        }
    }

    pub fn for_each(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        // A call from inside a task (a batch's images, each with its own split product) runs
        // its tasks itself: the pool is busy with the outer call.
        let Ok(_one) = POOL.caller.try_lock() else {
            (0..tasks).for_each(f);
            return;
        };
        // SAFETY: the epoch is even and no worker is inside (the last call waited for that),
        // so no one reads `call` now. The lifetime is erased: this function returns only when
        // no worker can reach `f` any more.
        unsafe {
            *POOL.call.get() = Call {
                f: std::mem::transmute::<&(dyn Fn(usize) + Sync), *const (dyn Fn(usize) + Sync)>(f),
                tasks,
            };
        }
        POOL.next.store(0, SeqCst);
        POOL.done.store(0, SeqCst);
        POOL.epoch.fetch_add(1, SeqCst);
        if POOL.sleeping.load(SeqCst) > 0 {
            let _g = POOL.lock.lock().unwrap_or_else(|p| p.into_inner());
            POOL.wake.notify_all();
        }
        // SAFETY: as above; the call is open.
        work(unsafe { *POOL.call.get() });
        while POOL.done.load(SeqCst) < tasks {
            check_workers();
            std::hint::spin_loop();
        }
        // Closed: workers arriving now see an even epoch and leave `call` alone; wait for those
        // still inside.
        POOL.epoch.fetch_add(1, SeqCst);
        while POOL.inside.load(SeqCst) > 0 {
            check_workers();
            std::hint::spin_loop();
        }
    }

    /// A worker's loop (never returns): joins each call it sees open, spins a while between
    /// calls, then sleeps until the next.
    pub fn run_worker() -> ! {
        ON_WORKER.with(|w| w.set(true));
        let mut seen = 0;
        loop {
            let mut spins = 0;
            let epoch = loop {
                let e = POOL.epoch.load(SeqCst);
                if e % 2 == 1 && e != seen {
                    break e;
                }
                spins += 1;
                if spins < SPINS {
                    std::hint::spin_loop();
                    continue;
                }
                // Asleep until a caller opens a call or wakes the pool (checked again under the
                // lock, which the caller takes to notify).
                let mut g = POOL.lock.lock().unwrap_or_else(|p| p.into_inner());
                let nudged = POOL.nudge.load(SeqCst);
                POOL.sleeping.fetch_add(1, SeqCst);
                loop {
                    let e = POOL.epoch.load(SeqCst);
                    if (e % 2 == 1 && e != seen) || POOL.nudge.load(SeqCst) != nudged {
                        break;
                    }
                    g = POOL.wake.wait(g).unwrap_or_else(|p| p.into_inner());
                }
                POOL.sleeping.fetch_sub(1, SeqCst);
                drop(g);
                spins = 0;
            };
            seen = epoch;
            POOL.inside.fetch_add(1, SeqCst);
            // Still the same open call? (Else it closed between the two loads: skip it.)
            if POOL.epoch.load(SeqCst) == epoch {
                // SAFETY: the call is open and this worker is counted inside it.
                work(unsafe { *POOL.call.get() });
            }
            POOL.inside.fetch_sub(1, SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_task_runs_once() {
        for tasks in [0, 1, 2, 3, 17, 100] {
            let runs: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
            for_each(tasks, &|i| {
                runs[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                runs.iter().all(|r| r.load(Ordering::Relaxed) == 1),
                "{tasks} tasks"
            );
        }
    }

    #[test]
    fn chunks_cover_the_slice_in_order() {
        for (len, chunk) in [(0, 3), (1, 3), (9, 3), (10, 3), (10, 20)] {
            let mut data = vec![usize::MAX; len];
            for_each_chunk_mut(&mut data, chunk, &|i, piece| {
                for (k, v) in piece.iter_mut().enumerate() {
                    *v = i * chunk + k;
                }
                assert!(piece.len() == chunk || (i + 1) * chunk >= len);
            });
            assert_eq!(data, (0..len).collect::<Vec<_>>(), "{len} by {chunk}");
        }
    }

    #[test]
    fn owned_items_each_go_to_one_task() {
        let sum = AtomicUsize::new(0);
        for_each_owned((1..=50).map(|i| vec![i; i]).collect(), &|v: Vec<usize>| {
            sum.fetch_add(v.iter().sum::<usize>(), Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), (1..=50).map(|i| i * i).sum());
    }
}
