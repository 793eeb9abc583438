//! Readable names for runs created without one, in MLflow's `adjective-noun-NNN` shape.

use rand::seq::IndexedRandom as _;
use rand::Rng as _;

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "bright", "calm", "clever", "crisp", "daring", "eager", "fancy", "gentle", "glossy", "golden",
    "happy", "honest", "jolly", "keen", "lively", "lucky", "merry", "mighty", "nimble", "noble", "polite", "proud",
    "quick", "quiet", "rare", "rustic", "shiny", "silent", "smooth", "snappy", "steady", "sunny", "swift", "tidy",
    "vivid", "warm", "wise", "zesty",
];

const NOUNS: &[&str] = &[
    "otter", "falcon", "badger", "heron", "lynx", "marten", "panda", "puffin", "quail", "raven", "salmon", "seal",
    "sparrow", "stoat", "swan", "tapir", "tern", "trout", "turtle", "vole", "walrus", "wombat", "yak", "zebra",
    "bison", "camel", "crane", "dingo", "eagle", "ferret", "gecko", "hare", "ibis", "jackal", "koala", "lemur", "mole",
    "newt", "owl", "pike",
];

/// Returns a fresh random run name such as `swift-heron-417`.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("plain");
    let noun = NOUNS.choose(&mut rng).copied().unwrap_or("run");
    format!("{adjective}-{noun}-{}", rng.random_range(0..1000))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_have_three_dash_separated_parts() {
        let name = super::generate();
        let parts: Vec<_> = name.split('-').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert!(parts[2].parse::<u16>().unwrap() < 1000);
    }
}
