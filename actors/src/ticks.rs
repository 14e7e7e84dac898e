//! Periodic messages that cannot pile up in a stuck actor's mailbox.
//!
//! ractor's `send_interval` sends on every period whether or not the last one was handled, so
//! an actor held up (a slow commit, a store that hangs) finds one tick per period waiting when
//! it wakes, and works through them all. A [`Ticker`] sends the next tick only once the last
//! one has been taken from the mailbox: at most one tick of each kind waits, however long the
//! actor is held, and a tick missed meanwhile is not made up (each one looks at the time).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorRef, Message};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// One kind of periodic message to one actor. Dropping it (with the actor's state) stops it.
pub struct Ticker {
    /// A tick is in the mailbox, sent and not yet taken.
    pending: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Ticker {
    /// Sends `tick()` to `actor` every `period`, skipping a period while the last tick still
    /// waits. The actor calls [`Ticker::taken`] as it handles each tick.
    pub fn start<M: Message>(
        actor: &ActorRef<M>,
        period: Duration,
        tick: impl Fn() -> M + Send + 'static,
    ) -> Self {
        let pending = Arc::new(AtomicBool::new(false));
        let (flag, actor) = (pending.clone(), actor.clone());
        let task = tokio::spawn(async move {
            let mut timer = tokio::time::interval(period);
            timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
            timer.tick().await; // the first tick is at once; the first message after a period
            loop {
                timer.tick().await;
                if flag.swap(true, Ordering::AcqRel) {
                    continue; // the last one still waits: this one would pile up behind it
                }
                if actor.cast(tick()).is_err() {
                    break; // the actor is gone
                }
            }
        });
        Self { pending, task }
    }

    /// The actor has taken a tick from its mailbox: the next period may send another.
    pub fn taken(&self) {
        self.pending.store(false, Ordering::Release);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
    use tokio::sync::oneshot;

    use super::*;

    const PERIOD_MS: u64 = 10;
    /// How long the actor is held: many periods.
    const HELD_MS: u64 = 40 * PERIOD_MS;

    enum Msg {
        Tick,
        /// Hold the actor until the sender is dropped or sends.
        Hold(oneshot::Receiver<()>),
        /// How many ticks were handled since the last `Hold` began.
        Count(RpcReplyPort<usize>),
    }

    /// Ticks from a `Ticker`, or from ractor's `send_interval` (to show the test can fail).
    struct Ticked {
        bounded: bool,
    }

    struct State {
        ticker: Option<Ticker>,
        since_hold: usize,
    }

    impl Actor for Ticked {
        type Msg = Msg;
        type State = State;
        type Arguments = ();

        async fn pre_start(&self, me: ActorRef<Msg>, _: ()) -> Result<State, ActorProcessingErr> {
            let period = Duration::from_millis(PERIOD_MS);
            let ticker = match self.bounded {
                true => Some(Ticker::start(&me, period, || Msg::Tick)),
                false => {
                    me.send_interval(period, || Msg::Tick);
                    None
                }
            };
            Ok(State {
                ticker,
                since_hold: 0,
            })
        }

        async fn handle(
            &self,
            _: ActorRef<Msg>,
            msg: Msg,
            state: &mut State,
        ) -> Result<(), ActorProcessingErr> {
            match msg {
                Msg::Tick => {
                    state.ticker.iter().for_each(Ticker::taken);
                    state.since_hold += 1;
                }
                Msg::Hold(until) => {
                    let _ = until.await;
                    state.since_hold = 0;
                }
                Msg::Count(reply) => {
                    let _ = reply.send(state.since_hold);
                }
            }
            Ok(())
        }
    }

    /// Holds the actor for HELD_MS, queues a `Count` behind whatever ticks arrived meanwhile,
    /// lets it go: the count is the ticks that were waiting in its mailbox.
    async fn ticks_waiting_after_a_hold(bounded: bool) -> usize {
        let (actor, handle) = Actor::spawn(None, Ticked { bounded }, ()).await.unwrap();
        let (release, held) = oneshot::channel();
        actor.cast(Msg::Hold(held)).unwrap();
        tokio::time::sleep(Duration::from_millis(HELD_MS)).await; // periods go by, held
        let (reply, counted) = oneshot::channel();
        actor.cast(Msg::Count(reply.into())).unwrap();
        release.send(()).unwrap();
        let waiting = tokio::time::timeout(Duration::from_secs(10), counted)
            .await
            .expect("the actor answers once let go")
            .unwrap();
        actor.stop(None);
        handle.await.unwrap();
        waiting
    }

    #[tokio::test]
    async fn a_held_actor_finds_at_most_one_tick_waiting() {
        assert_eq!(ticks_waiting_after_a_hold(true).await, 1);
    }

    #[tokio::test]
    async fn send_interval_would_have_piled_ticks_up() {
        // What the Ticker replaces: the same hold finds one tick per period waiting.
        let waiting = ticks_waiting_after_a_hold(false).await;
        assert!(waiting >= 10, "only {waiting} ticks waited");
    }
}
