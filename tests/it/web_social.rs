//! Web pages for following, the home feed, interactions on product pages and follower
//! approval (being written).
