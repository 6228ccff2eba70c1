//! Pieces shared by pages.

pub mod auth;
pub mod authorized;
pub mod code_field;
pub mod footer;
pub mod form;
pub mod local_time;
pub mod nav;
pub mod notice;
pub mod oauth;
pub mod passkeys;
pub mod settings_tabs;
pub mod verify_banner;
pub mod view_as_banner;
