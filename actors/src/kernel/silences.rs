//! People's silences (`POST /silences`): kept in the store and on the context's board, which
//! the incident manager reads as each page of events is applied. Made and expired by the store
//! actor, their one owner (see `StoreState::silence`), each committed with its announcement
//! (`silence.created`, `silence.expired`); the kernel only asks.

use super::{Kernel, KernelError};
use crate::model::Who;
use crate::protocol::store::{SilenceChange, SilenceRefused, StoreMsg};
use crate::protocol::Store;
use crate::silence::Silence;

impl Kernel {
    /// Every silence kept, newest first.
    pub fn silences(&self) -> Vec<Silence> {
        let mut silences = self.ctx.silences.read().expect("silences poisoned").clone();
        silences.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        silences
    }

    /// Stores `silence` and puts it in force. At [`SILENCES_MAX`](crate::silence::SILENCES_MAX) the one that ended longest
    /// ago makes room; when none has ended, the new one is refused. Decided by the store actor,
    /// the one owner of silences, so concurrent requests cannot pass the cap together.
    pub async fn create_silence(&self, silence: Silence) -> Result<Silence, KernelError> {
        self.change_silence(SilenceChange::Create(silence)).await
    }

    /// Ends silence `id` now (one that has not begun never does).
    pub async fn expire_silence(&self, id: &str, by: Who) -> Result<Silence, KernelError> {
        let id = id.to_owned();
        self.change_silence(SilenceChange::Expire { id, by }).await
    }

    async fn change_silence(&self, change: SilenceChange) -> Result<Silence, KernelError> {
        let ask = |reply| StoreMsg::Silence(change, reply);
        self.ask::<Store, _>(ask)
            .await?
            .map_err(|refused| match refused {
                SilenceRefused::NoSuch(id) => KernelError::NoSuchSilence(id),
                SilenceRefused::Full(cap) => KernelError::TooManySilences(cap),
                SilenceRefused::Save(error) => KernelError::Save(error),
            })
    }
}
