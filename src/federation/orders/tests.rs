//! Order messages against the fixtures in `tests/fixtures/ap/fedishop/`.
