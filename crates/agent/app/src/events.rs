//! Watch events arrive in bursts (a relist, a rollout): each loop takes the one that woke
//! it and every one already waiting, then reconciles once.

use futures::{FutureExt, Stream, StreamExt};

/// `first` and every event already waiting behind it on `stream`, handed to `apply`.
/// Whether any of them changed something.
pub(crate) fn drain<S, T>(first: T, stream: &mut S, mut apply: impl FnMut(T) -> bool) -> bool
where
    S: Stream<Item = T> + Unpin,
{
    let mut changed = apply(first);
    while let Some(Some(e)) = stream.next().now_or_never() {
        changed |= apply(e);
    }
    changed
}
