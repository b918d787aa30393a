//! A TLS key log file (`--tls-keylog`), read as it grows: browsers and TLS libraries append a
//! connection's secrets when it is made, so a live capture reads the file again when it meets
//! a connection whose secrets it does not have yet.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::CaptureError;

#[derive(Debug)]
pub struct KeyFile {
    path: PathBuf,
    /// Bytes of the file read so far.
    read: u64,
}

/// Longest key log read at once: about 5 million connections' worth of TLS 1.3 lines.
const MAX_READ: u64 = 1 << 30;

impl KeyFile {
    /// Open a key log and read what it holds now.
    pub fn open(path: &Path) -> Result<(KeyFile, Vec<u8>), CaptureError> {
        let mut file = KeyFile {
            path: path.to_path_buf(),
            read: 0,
        };
        let text = file.read_new().map_err(|source| CaptureError::KeyLog {
            path: path.to_path_buf(),
            source,
        })?;
        Ok((file, text))
    }

    /// What was appended since the last read: whole lines only, so a line being written is
    /// read next time. A file that shrank (rewritten) is read again from the start.
    pub fn read_new(&mut self) -> std::io::Result<Vec<u8>> {
        let mut f = File::open(&self.path)?;
        let len = f.metadata()?.len();
        if len < self.read {
            self.read = 0;
        }
        f.seek(SeekFrom::Start(self.read))?;
        let mut text = Vec::new();
        f.take(MAX_READ).read_to_end(&mut text)?;
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        text.truncate(whole);
        self.read += whole as u64;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_what_was_appended_in_whole_lines() {
        let path = std::env::temp_dir().join(format!("wsd-keyfile-{}", std::process::id()));
        std::fs::write(&path, b"A 1 2\nB 3").unwrap();
        let (mut kf, first) = KeyFile::open(&path).unwrap();
        assert_eq!(first, b"A 1 2\n");
        assert_eq!(kf.read_new().unwrap(), b"");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b" 4\nC 5 6\n").unwrap();
        assert_eq!(kf.read_new().unwrap(), b"B 3 4\nC 5 6\n");
        std::fs::write(&path, b"D 7 8\n").unwrap();
        assert_eq!(
            kf.read_new().unwrap(),
            b"D 7 8\n",
            "a rewritten file is read again"
        );
        std::fs::remove_file(&path).unwrap();
        assert!(KeyFile::open(&path).is_err());
    }
}
