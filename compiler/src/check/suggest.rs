//! "Did you mean": the closest known name to a misspelt one.
//!
//! In: the name as written and the candidates in scope. Out: the best
//! candidate when it is close enough to be a plausible typo (Damerau-
//! Levenshtein distance scaled by length, case differences cheap).

/// The candidate closest to `written`, if any is close enough.
pub fn best<'a>(written: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let written_lower = written.to_ascii_lowercase();
    let limit = match written.chars().count() {
        0..=2 => 1,
        3..=5 => 2,
        6..=10 => 3,
        _ => 4,
    };
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == written || candidate.is_empty() {
            continue;
        }
        let candidate_lower = candidate.to_ascii_lowercase();
        let distance = if candidate_lower == written_lower {
            0
        } else {
            strsim::damerau_levenshtein(&written_lower, &candidate_lower)
        };
        let prefix_match = candidate_lower.starts_with(&written_lower) || written_lower.starts_with(&candidate_lower);
        let acceptable = distance <= limit || (prefix_match && written.len() >= 3 && distance <= limit + 2);
        if acceptable
            && best.is_none_or(|(best_distance, best_name)| (distance, candidate) < (best_distance, best_name))
        {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["email", "external_id", "full_name", "country"];
        assert_eq!(best("emial", names), Some("email"));
        assert_eq!(best("Email", names), Some("email"));
        assert_eq!(best("contry", names), Some("country"));
        assert_eq!(best("zzz", names), None);
        assert_eq!(best("GET", ["GET", "POST"]), None);
        assert_eq!(best("lsit_orders", ["list_orders", "get_order"]), Some("list_orders"));
    }
}
