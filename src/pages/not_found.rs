pub use crate::components::notice::NotFound;
