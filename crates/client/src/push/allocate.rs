//! AllocateMessageQueueAveragely: which queues of a topic a consumer of a clustering group
//! takes, given every queue and every consumer id of the group (both sorted, so that every
//! member computes the same split without talking to the others).

/// The slice of `queues` that the consumer `me` takes. Nothing when `me` is not listed.
pub fn allocate_averagely<'a, T>(queues: &'a [T], consumers: &[String], me: &str) -> &'a [T] {
    let Some(i) = consumers.iter().position(|c| c == me) else {
        return &[];
    };
    let (n, m) = (queues.len(), consumers.len());
    if n == 0 {
        return &[];
    }
    let rem = n % m;
    let size = if n <= m {
        1
    } else if i < rem {
        n / m + 1
    } else {
        n / m
    };
    let start = if i < rem { i * size } else { i * size + rem };
    if start >= n {
        return &[];
    }
    &queues[start..(start + size).min(n)]
}

#[cfg(test)]
mod tests {
    use super::allocate_averagely;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn eight_queues_three_consumers() {
        let q: Vec<i32> = (0..8).collect();
        let c = ids(3);
        assert_eq!(allocate_averagely(&q, &c, "c0"), &[0, 1, 2]);
        assert_eq!(allocate_averagely(&q, &c, "c1"), &[3, 4, 5]);
        assert_eq!(allocate_averagely(&q, &c, "c2"), &[6, 7]);
    }

    #[test]
    fn more_consumers_than_queues_and_strangers() {
        let q: Vec<i32> = (0..2).collect();
        let c = ids(4);
        assert_eq!(allocate_averagely(&q, &c, "c0"), &[0]);
        assert_eq!(allocate_averagely(&q, &c, "c1"), &[1]);
        assert!(allocate_averagely(&q, &c, "c2").is_empty());
        assert!(allocate_averagely(&q, &c, "c3").is_empty());
        assert!(allocate_averagely(&q, &c, "nobody").is_empty());
    }

    #[test]
    fn every_queue_exactly_once_for_many_shapes() {
        for n in 0..20 {
            for m in 1..8 {
                let q: Vec<usize> = (0..n).collect();
                let c = ids(m);
                let mut all: Vec<usize> = c
                    .iter()
                    .flat_map(|me| allocate_averagely(&q, &c, me).to_vec())
                    .collect();
                all.sort();
                assert_eq!(all, q, "n={n} m={m}");
            }
        }
    }
}
