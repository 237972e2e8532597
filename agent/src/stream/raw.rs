//! The ring's records as they came, in a file (`watch --raw-out`), and read back
//! (`watch --raw-in`): the real kernel stream of a run, replayed through the same decode,
//! state and rules as fast as they go — how the evaluation threads' speedup is measured on a
//! machine whose cores the workload needs while it runs. Each record: its length (u32, little
//! endian), its bytes.

use std::{
    fs::File,
    io::{self, BufWriter, Read, Write},
    path::Path,
};

/// Appends records to a file.
pub(crate) struct Tap(BufWriter<File>);

impl Tap {
    pub(crate) fn create(path: &Path) -> io::Result<Tap> {
        Ok(Tap(BufWriter::with_capacity(1 << 20, File::create(path)?)))
    }

    pub(crate) fn write(&mut self, rec: &[u8]) -> io::Result<()> {
        let len = u32::try_from(rec.len()).map_err(|_| io::Error::other("record over 4 GiB"))?;
        self.0.write_all(&len.to_le_bytes())?;
        self.0.write_all(rec)
    }

    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Every record of a file [`Tap`] wrote, in order.
pub(crate) fn read(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let cut = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("record {} cut short in its {what}", out.len() + 1),
            )
        };
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| cut("length"))?;
        let len = u32::from_le_bytes(*len) as usize;
        if tail.len() < len {
            return Err(cut("bytes"));
        }
        let (rec, tail) = tail.split_at(len);
        out.push(rec.to_vec());
        rest = tail;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_cut_file_is_a_located_error() {
        let dir = std::env::temp_dir().join(format!("sysaudit-raw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("r.raw");
        let mut t = Tap::create(&p).expect("create");
        for r in [&b"abc"[..], b"", b"0123456789"] {
            t.write(r).expect("write");
        }
        t.finish().expect("flush");
        assert_eq!(
            read(&p).expect("read"),
            vec![b"abc".to_vec(), vec![], b"0123456789".to_vec()]
        );
        let mut b = std::fs::read(&p).expect("bytes");
        b.truncate(b.len() - 3);
        std::fs::write(&p, b).expect("write");
        let e = read(&p).expect_err("cut");
        assert!(e.to_string().contains("record 3 cut short"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
