//! MLflow's REST wire format: request bodies as the stock client (and the web UI) send them, and
//! responses shaped as the client parses them.
//!
//! Requests are lenient the way MLflow's proto JSON parsing is: snake_case or lowerCamelCase names,
//! int64 as numbers or numeric strings, doubles as numbers or `"NaN"`/`"Infinity"` strings, enums as
//! names or numbers, repeated fields as arrays (or a single value, as a GET query string gives it).
//! See §1.2 and §1.3 of the project's API spec.

pub mod de;
pub mod requests;
pub mod responses;
