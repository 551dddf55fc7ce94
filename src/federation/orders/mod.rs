//! Orders across instances (FEP-0837 `Offer` / `Accept` / `Reject`, then `Update`s): `wire`
//! (the messages), `send` (the buyer's instance: placing, cancelling and listing a member's
//! orders with remote shops), `receive` (both sides: the shop's instance takes Offers and
//! Undos, the buyer's takes Accepts, Rejects and Updates), `announce` (the shop's Accept and
//! Updates, built from order events by the outbox worker). Everything is addressed to the
//! other party alone and delivered to its own inbox, never public. The order rules live in
//! `domain::orders`; SQL in `db`.

pub mod announce;
pub mod receive;
pub mod send;
pub mod wire;

#[cfg(test)]
mod tests;
