//! Writes the bytes that `arbitrary::Unstructured` (arbitrary 1.x) decodes to a chosen value,
//! so the `arbitrary`-driven targets can be seeded from real inputs (the world's transcripts).
//! Each method mirrors one `Arbitrary` impl; the round-trip tests of the targets that use it
//! decode what it writes, so a change of arbitrary's format fails them.

/// A fuzz input being written, front to back.
#[derive(Clone, Debug, Default)]
pub struct SeedBytes(Vec<u8>);

impl SeedBytes {
    /// An empty input.
    pub fn new() -> Self {
        Self::default()
    }

    /// A `u8`: one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }

    /// A `u16`: two bytes, little-endian.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A `bool`: one byte, its low bit.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    /// The variant `index` of a derived enum with `count` variants: a little-endian `u32`
    /// `x` with `(x * count) >> 32 == index`.
    pub fn variant(&mut self, index: u32, count: u32) -> &mut Self {
        assert!(index < count, "variant {index} of {count}");
        let x = (u64::from(index) << 32).div_ceil(u64::from(count));
        let x = u32::try_from(x).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }

    /// A `Vec<T>` (`Unstructured::arbitrary_iter`): a "more" byte before each item, then a
    /// "stop" byte; `each` writes one item.
    pub fn list<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) -> &mut Self {
        for item in items {
            self.bool(true);
            each(self, item);
        }
        self.bool(false)
    }

    /// A `Vec<u8>`.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.list(v.iter().copied(), |s, b| {
            s.u8(b);
        })
    }

    /// `Unstructured::int_in_range(start..=start + delta)` returning `start + offset`: as
    /// many big-endian bytes as `delta` needs.
    pub fn int_in_range(&mut self, offset: u64, delta: u64) -> &mut Self {
        assert!(offset <= delta, "offset {offset} past {delta}");
        let width = (0..8).find(|k| delta >> (8 * k) == 0).unwrap_or(8);
        self.0.extend_from_slice(&offset.to_be_bytes()[8 - width..]);
        self
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use arbitrary::Unstructured;

    use super::*;

    #[test]
    fn decodes_to_what_was_written() {
        #[derive(arbitrary::Arbitrary, Debug, PartialEq)]
        enum E {
            A,
            B(u16, bool),
            C(Vec<u8>),
        }
        for count in 1..20u32 {
            for index in 0..count {
                let mut s = SeedBytes::new();
                s.variant(index, count);
                let x = u32::from_le_bytes(s.into_bytes().try_into().unwrap());
                assert_eq!((u64::from(x) * u64::from(count)) >> 32, u64::from(index));
            }
        }
        let mut s = SeedBytes::new();
        s.list([E::A, E::B(515, true), E::C(vec![0, 7, 255])], |s, e| {
            match e {
                E::A => s.variant(0, 3),
                E::B(n, b) => s.variant(1, 3).u16(n).bool(b),
                E::C(v) => s.variant(2, 3).bytes(&v),
            };
        });
        s.int_in_range(3, 3)
            .int_in_range(1_800_000_000, 4_000_000_000);
        let bytes = s.into_bytes();
        let mut u = Unstructured::new(&bytes);
        let list: Vec<E> = u.arbitrary().unwrap();
        assert_eq!(list, vec![E::A, E::B(515, true), E::C(vec![0, 7, 255])]);
        assert_eq!(u.int_in_range(0u8..=3).unwrap(), 3);
        assert_eq!(u.int_in_range(0u64..=4_000_000_000).unwrap(), 1_800_000_000);
        assert!(u.is_empty());
    }
}
