//! Payload buffers reused within a thread, and boxes reused by their owner. Each frame and
//! message keeps its payload in a buffer of its own, handed to the event that reports it; once
//! the event is rendered the buffer comes back here for the next frame or message, instead of
//! a `malloc` and a `free` each (on a capture of small messages those cost about 2 % of the
//! default view).
//!
//! Bounded: at most [`MAX_HELD`] buffers of at most [`MAX_CAPACITY`] bytes each, so a thread
//! holds at most 64 KiB here whatever the traffic, and a buffer handed out is never much larger
//! than a small payload needs.

use std::cell::RefCell;

/// Buffers held per thread: more than the frames and messages of one packet's events.
const MAX_HELD: usize = 64;
/// Larger buffers are freed: a large payload's allocation is small beside its copy, and a
/// small payload should not hold a large buffer.
const MAX_CAPACITY: usize = 1024;

thread_local! {
    static HELD: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer: one given back earlier on this thread, or a new one.
pub fn buffer() -> Vec<u8> {
    HELD.try_with(|held| held.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// `buf` is no longer needed: kept for [`buffer`] when it is small and there is room.
pub fn give_back(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > MAX_CAPACITY {
        return;
    }
    buf.clear();
    // At thread exit the list may be gone: the buffer is then just freed.
    let _ = HELD.try_with(|held| {
        let mut held = held.borrow_mut();
        if held.len() < MAX_HELD {
            held.push(buf);
        }
    });
}

/// `value` in the box `spare` holds, if any (the last one of its kind, kept by its owner while
/// busy), else in a new box.
#[inline]
pub fn boxed<T>(spare: &mut Option<Box<T>>, value: T) -> Box<T> {
    match spare.take() {
        Some(mut reused) => {
            *reused = value;
            reused
        }
        None => Box::new(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_buffer_given_back_is_handed_out_again_empty() {
        let mut b = buffer();
        b.extend_from_slice(b"hello");
        let at = b.as_ptr();
        give_back(b);
        let again = buffer();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), at);
    }

    #[test]
    fn large_buffers_are_not_kept_and_the_list_is_bounded() {
        give_back(Vec::with_capacity(MAX_CAPACITY + 1));
        assert_eq!(HELD.with(|h| h.borrow().len()), 0);
        for _ in 0..MAX_HELD + 10 {
            give_back(Vec::with_capacity(16));
        }
        assert_eq!(HELD.with(|h| h.borrow().len()), MAX_HELD);
    }

    #[test]
    fn a_spare_box_is_filled_again() {
        let mut spare = Some(Box::new(1u64));
        let at: *const u64 = &**spare.as_ref().unwrap();
        let b = boxed(&mut spare, 2);
        assert_eq!((*b, spare.is_none()), (2, true));
        assert!(std::ptr::eq(&*b, at));
        assert_eq!(*boxed(&mut spare, 3), 3);
    }
}
