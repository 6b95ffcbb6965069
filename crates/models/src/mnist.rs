//! MNIST in the IDX format (plain or gzip): a strict reader that names the file in every error and
//! never allocates more than the file holds, and a burn-dataset [`Dataset`] of the digits.

use burn::data::dataset::{Dataset, DatasetError};
use flate2::read::GzDecoder;
use hessrank_core::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// IDX type code of unsigned bytes.
const IDX_U8: u8 = 0x08;
/// Largest element count accepted from a header (the full MNIST training set holds 47 million).
const MAX_ELEMENTS: usize = 1 << 31;

/// A decoded IDX array of bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions from the header.
    pub dims: Vec<usize>,
    /// Row-major data.
    pub data: Vec<u8>,
}

/// Decodes an IDX file's bytes (already decompressed); `path` names the file in errors.
pub fn parse_idx(bytes: &[u8], expected_rank: usize, path: &Path) -> Result<IdxArray> {
    if bytes.len() < 4 {
        return Err(Error::format(path, format!("truncated IDX header: {} bytes, need at least 4", bytes.len())));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let expected_magic = 0x0800 | expected_rank as u32;
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != IDX_U8 || bytes[3] as usize != expected_rank {
        return Err(Error::format(
            path,
            format!(
                "wrong IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x} (unsigned bytes, rank {expected_rank})"
            ),
        ));
    }
    let header = 4 + 4 * expected_rank;
    if bytes.len() < header {
        return Err(Error::format(path, format!("truncated IDX header: {} bytes, need {header}", bytes.len())));
    }
    let dims: Vec<usize> = (0..expected_rank)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize)
        .collect();
    let count =
        dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).filter(|&n| n <= MAX_ELEMENTS).ok_or_else(|| {
            Error::format(path, format!("impossible IDX dimensions {dims:?} (more than {MAX_ELEMENTS} elements)"))
        })?;
    let body = &bytes[header..];
    if body.len() != count {
        let what = if body.len() < count { "truncated" } else { "trailing bytes in" };
        return Err(Error::format(
            path,
            format!("{what} IDX data: dimensions {dims:?} need {count} bytes, the file holds {}", body.len()),
        ));
    }
    Ok(IdxArray { dims, data: body.to_vec() })
}

/// Reads an IDX file, gzip-compressed or not (detected from its first bytes).
pub fn read_idx(path: &Path, expected_rank: usize) -> Result<IdxArray> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_idx(&raw, expected_rank, path)
}

/// Decodes an IDX file's bytes as read from disk, gzip-compressed or not (the entry point the
/// fuzz target drives); `path` names the file in errors.
pub fn decode_idx(raw: &[u8], expected_rank: usize, path: &Path) -> Result<IdxArray> {
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        // Decompress at most the largest valid size (+1 to detect excess); a corrupt or hostile
        // stream cannot make us allocate more than that.
        let limit = (4 + 4 * expected_rank + MAX_ELEMENTS + 1) as u64;
        let mut out = Vec::new();
        GzDecoder::new(raw)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| Error::format(path, format!("corrupt gzip stream: {e}")))?;
        out
    } else {
        raw.to_vec()
    };
    parse_idx(&bytes, expected_rank, path)
}

/// MNIST digits: 28×28 u8 images and their labels.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// Row-major pixels, `len() · rows · cols` bytes.
    pub images: Vec<u8>,
    /// One label (0–9) per image.
    pub labels: Vec<u8>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Where the images came from.
    pub source: PathBuf,
}

/// One MNIST digit, pixels scaled to [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct MnistItem {
    /// `rows · cols` pixels in [0, 1], row-major.
    pub pixels: Vec<f32>,
    /// The digit class.
    pub label: u8,
}

impl Mnist {
    /// The folder of digits shipped with the repository (`datasets/mnist`), or `$HESSRANK_MNIST`
    /// when set.
    pub fn bundled_dir() -> PathBuf {
        std::env::var_os("HESSRANK_MNIST")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist"))
    }

    /// The 10,000 digits shipped with the repository.
    pub fn bundled() -> Result<Self> {
        Self::load_dir(&Self::bundled_dir())
    }

    /// Loads a folder holding either the shipped files (`images-idx3-ubyte.gz`,
    /// `labels-idx1-ubyte.gz`) or the standard MNIST training files
    /// (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`).
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let find = |stem: &str| {
            [stem.to_string(), format!("{stem}.gz")].into_iter().map(|n| dir.join(n)).find(|p| p.is_file())
        };
        let pair = find("images-idx3-ubyte")
            .zip(find("labels-idx1-ubyte"))
            .or_else(|| find("train-images-idx3-ubyte").zip(find("train-labels-idx1-ubyte")));
        let Some((images, labels)) = pair else {
            return Err(Error::format(
                dir,
                "no MNIST files: expected images-idx3-ubyte[.gz] + labels-idx1-ubyte[.gz] \
                 or train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz]",
            ));
        };
        Self::load_files(&images, &labels)
    }

    /// The standard MNIST release in `dir`: the four IDX files `train-images-idx3-ubyte`,
    /// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (each
    /// plain or `.gz`). All four must be present, so that a half-downloaded folder is caught; the
    /// 60,000 training images are loaded.
    pub fn load_standard(dir: &Path) -> Result<Self> {
        let mut found = Vec::new();
        for stem in
            ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        {
            let path = [stem.to_string(), format!("{stem}.gz")].into_iter().map(|n| dir.join(n)).find(|p| p.is_file());
            match path {
                Some(p) => found.push(p),
                None => {
                    return Err(Error::format(
                        dir.join(stem),
                        "missing MNIST file (expected the four IDX files of the standard release, plain or .gz)",
                    ));
                }
            }
        }
        Self::load_files(&found[0], &found[1])
    }

    /// Loads an image file and a label file, checking that they agree.
    pub fn load_files(images_path: &Path, labels_path: &Path) -> Result<Self> {
        let images = read_idx(images_path, 3)?;
        let labels = read_idx(labels_path, 1)?;
        if images.dims[0] != labels.dims[0] {
            return Err(Error::format(
                labels_path,
                format!("{} labels for {} images in {}", labels.dims[0], images.dims[0], images_path.display()),
            ));
        }
        if let Some((i, l)) = labels.data.iter().enumerate().find(|(_, l)| **l > 9) {
            return Err(Error::format(labels_path, format!("label {l} at index {i}, expected 0–9")));
        }
        Ok(Self {
            images: images.data,
            labels: labels.data,
            rows: images.dims[1],
            cols: images.dims[2],
            source: images_path.to_path_buf(),
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of image `i` as bytes.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.rows * self.cols;
        &self.images[i * n..(i + 1) * n]
    }
}

impl Dataset<MnistItem> for Mnist {
    fn get(&self, index: usize) -> std::result::Result<MnistItem, DatasetError> {
        if index >= self.len() {
            return Err(DatasetError::new(Error::config("MNIST index", index, format!("< {}", self.len()))));
        }
        Ok(MnistItem {
            pixels: self.image(index).iter().map(|&p| p as f32 / 255.0).collect(),
            label: self.labels[index],
        })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}
