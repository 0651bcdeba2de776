//! Interface name patterns: `*` matches any run of characters, `?` any one.

/// Whether `name` matches `pattern` (`*` any run, `?` any one character,
/// everything else itself).
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns() {
        assert!(matches("eth0", "eth0"));
        assert!(!matches("eth0", "eth01"));
        assert!(matches("veth*", "veth"));
        assert!(matches("veth*", "veth12ab"));
        assert!(!matches("veth*", "eth0"));
        assert!(matches("e?h*", "eth0"));
        assert!(matches("*0", "eth0"));
        assert!(matches("*t*0", "eth0"));
        assert!(!matches("*t*1", "eth0"));
        assert!(matches("*", ""));
        assert!(!matches("?", ""));
    }
}
