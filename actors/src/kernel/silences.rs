//! People's silences (`POST /silences`): kept in the store and on the context's board, which
//! the incident manager reads as each page of events is applied. Made and expired here, each
//! announced on the feed (`silence.created`, `silence.expired`).

use std::sync::Arc;

use super::{Kernel, KernelError};
use crate::event::EventDraft;
use crate::model::Who;
use crate::payload::{SilenceCreated, SilenceExpired};
use crate::protocol::bus::publish;
use crate::silence::{Silence, SILENCES_MAX};
use crate::store::StoreError;

fn saved(error: StoreError) -> KernelError {
    KernelError::Save(Arc::new(error))
}

impl Kernel {
    /// Every silence kept, newest first.
    pub fn silences(&self) -> Vec<Silence> {
        let mut silences = self.ctx.silences.read().expect("silences poisoned").clone();
        silences.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        silences
    }

    /// Stores `silence` and puts it in force. At [`SILENCES_MAX`] the one that ended longest
    /// ago makes room; when none has ended, the new one is refused.
    pub async fn create_silence(&self, silence: Silence) -> Result<Silence, KernelError> {
        let now = crate::time::now();
        let kept = self.silences();
        if kept.len() >= SILENCES_MAX {
            let ended = kept
                .iter()
                .filter(|s| s.ends_at <= now)
                .min_by_key(|s| s.ends_at);
            let Some(ended) = ended else {
                return Err(KernelError::TooManySilences(SILENCES_MAX));
            };
            self.ctx
                .store
                .remove_silence(&ended.id)
                .await
                .map_err(saved)?;
            let mut board = self.ctx.silences.write().expect("silences poisoned");
            board.retain(|s| s.id != ended.id);
        }
        self.ctx.store.save_silence(&silence).await.map_err(saved)?;
        let mut board = self.ctx.silences.write().expect("silences poisoned");
        board.push(silence.clone());
        drop(board);
        let created = SilenceCreated {
            silence: silence.clone(),
        };
        publish(&self.ctx.scope, EventDraft::of(&created));
        Ok(silence)
    }

    /// Ends silence `id` now (one that has not begun never does).
    pub async fn expire_silence(&self, id: &str, by: Who) -> Result<Silence, KernelError> {
        let now = crate::time::now();
        let mut silence = self
            .silences()
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| KernelError::NoSuchSilence(id.to_owned()))?;
        silence.ends_at = silence.ends_at.min(now);
        silence.starts_at = silence.starts_at.min(silence.ends_at);
        self.ctx.store.save_silence(&silence).await.map_err(saved)?;
        let mut board = self.ctx.silences.write().expect("silences poisoned");
        if let Some(kept) = board.iter_mut().find(|s| s.id == id) {
            *kept = silence.clone();
        }
        drop(board);
        let expired = SilenceExpired {
            silence: silence.clone(),
            by,
        };
        publish(&self.ctx.scope, EventDraft::of(&expired));
        Ok(silence)
    }
}
