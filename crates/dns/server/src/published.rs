//! One value many threads read on every query and a few tasks replace now and then: readers
//! pay one atomic load per use and touch the lock only when the generation moved.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct Published<T> {
    generation: AtomicU64,
    current: Mutex<Arc<T>>,
}

/// A thread's cached view of a [`Published`] value.
pub struct Reader<T> {
    generation: u64,
    current: Arc<T>,
}

impl<T> Published<T> {
    pub fn new(value: T) -> Self {
        Published {
            generation: AtomicU64::new(0),
            current: Mutex::new(Arc::new(value)),
        }
    }

    pub fn load(&self) -> Arc<T> {
        self.current.lock().unwrap().clone()
    }

    pub fn store(&self, value: Arc<T>) {
        *self.current.lock().unwrap() = value;
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Replaces the value with `f(current)`, atomically with respect to other updates.
    pub fn update(&self, f: impl FnOnce(&T) -> T) {
        let mut cur = self.current.lock().unwrap();
        *cur = Arc::new(f(&cur));
        drop(cur);
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub fn reader(&self) -> Reader<T> {
        let generation = self.generation.load(Ordering::Acquire);
        Reader {
            generation,
            current: self.load(),
        }
    }
}

impl<T> Reader<T> {
    pub fn get(&mut self, from: &Published<T>) -> &Arc<T> {
        let g = from.generation.load(Ordering::Acquire);
        if g != self.generation {
            self.current = from.load();
            self.generation = g;
        }
        &self.current
    }
}
