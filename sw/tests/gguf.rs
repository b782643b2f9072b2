//! GGUF reader / writer: gguf-py fixtures, round trips, corrupt files, no-panic fuzz.

use std::path::PathBuf;

use lutcore_sw::gguf::codec::{encode_f32, encode_ternary};
use lutcore_sw::gguf::{
    ternary_rows, GgmlType, GgufError, GgufFile, GgufWriter, MetadataArray, MetadataValue,
    TernaryScale,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gguf")
        .join(name)
}

fn parse(bytes: Vec<u8>) -> Result<GgufFile, GgufError> {
    GgufFile::from_bytes("mem.gguf", bytes)
}

// ---------------------------------------------------------------- fixtures

#[test]
fn metadata_fixture_has_every_type() {
    let f = GgufFile::open(fixture("metadata.gguf")).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.alignment(), 64);
    assert_eq!(f.data_offset() % 64, 0);
    assert_eq!(f.get_str("general.architecture").unwrap(), "bitnet");
    assert_eq!(f.get("test.u8"), Some(&MetadataValue::U8(200)));
    assert_eq!(f.get("test.i8"), Some(&MetadataValue::I8(-100)));
    assert_eq!(f.get("test.u16"), Some(&MetadataValue::U16(60000)));
    assert_eq!(f.get("test.i16"), Some(&MetadataValue::I16(-30000)));
    assert_eq!(f.get_u32("test.u32").unwrap(), 4_000_000_000);
    assert_eq!(f.get_i32("test.i32").unwrap(), -2_000_000_000);
    assert_eq!(f.get_f32("test.f32").unwrap(), 1.5);
    assert!(f.get_bool("test.bool").unwrap());
    assert_eq!(f.get_str("test.string").unwrap(), "héllo wörld ✓");
    assert_eq!(f.get_u64("test.u64").unwrap(), (1u64 << 63) + 5);
    assert_eq!(f.get_i64("test.i64").unwrap(), -(1i64 << 62));
    assert_eq!(f.get_f64("test.f64").unwrap(), -2.25);
    assert_eq!(
        f.get_str_array("test.arr_str").unwrap(),
        ["<unk>", "<s>", "</s>", "▁the", "", "日本"]
    );
    assert_eq!(f.get_f32_array("test.arr_f32").unwrap(), [0.5, -1.25, 3.0]);
    assert_eq!(f.get_i32_array("test.arr_i32").unwrap(), [1, -2, 3]);
    assert_eq!(
        f.get_array("test.arr_bool").unwrap(),
        &MetadataArray::Bool(vec![true, false, true])
    );
    assert_eq!(
        f.get_array("test.arr_u8").unwrap(),
        &MetadataArray::U8(vec![1, 2, 255])
    );
    assert_eq!(
        f.get_array("test.arr_u64").unwrap(),
        &MetadataArray::U64(vec![1, u64::MAX])
    );
    assert_eq!(
        f.get_array("test.arr_f64").unwrap(),
        &MetadataArray::F64(vec![0.1, -0.2])
    );
    assert_eq!(
        f.get_array("test.arr_nested").unwrap(),
        &MetadataArray::Array(vec![
            MetadataArray::I32(vec![1, 2]),
            MetadataArray::I32(vec![3])
        ])
    );
    let t = f.expect_shape("small", &[3, 2]).unwrap();
    assert_eq!((t.rows(), t.cols()), (2, 3));
    assert_eq!(t.to_f32().unwrap(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn typed_getter_errors_name_key_and_type() {
    let f = GgufFile::open(fixture("metadata.gguf")).unwrap();
    let msg = f.get_str("test.u32").unwrap_err().to_string();
    assert!(
        msg.contains("metadata.gguf")
            && msg.contains("`test.u32`")
            && msg.contains("expected string"),
        "{msg}"
    );
    let msg = f.get_u32("test.i8").unwrap_err().to_string();
    assert!(
        msg.contains("`test.i8`") && msg.contains("-100") && msg.contains("u32"),
        "{msg}"
    );
    assert!(matches!(
        f.get_u32("test.u64"),
        Err(GgufError::ValueOutOfRange { .. })
    ));
    assert!(matches!(
        f.get_str_array("test.arr_f32"),
        Err(GgufError::WrongKeyType { .. })
    ));
    let e = f.get_f32("no.such.key").unwrap_err();
    assert!(
        matches!(&e, GgufError::MissingKey { key, .. } if key == "no.such.key"),
        "{e}"
    );
    let e = f.tensor("nope").unwrap_err();
    assert!(
        matches!(&e, GgufError::MissingTensor { tensor, .. } if tensor == "nope"),
        "{e}"
    );
    let e = f.expect_shape("small", &[2, 3]).unwrap_err();
    assert!(
        e.to_string().contains("`small`") && e.to_string().contains("[3, 2]"),
        "{e}"
    );
    assert!(matches!(e, GgufError::WrongShape { .. }));
}

struct Expected {
    name: String,
    ty: String,
    dims: Vec<u64>,
    input: Vec<f32>,
    decoded: Vec<f32>,
}

fn expected() -> Vec<Expected> {
    let text = std::fs::read_to_string(fixture("tensors.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let floats = |x: &serde_json::Value| -> Vec<f32> {
        x.as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_f64().unwrap() as f32)
            .collect()
    };
    v.as_object()
        .unwrap()
        .iter()
        .map(|(name, e)| Expected {
            name: name.clone(),
            ty: e["type"].as_str().unwrap().to_string(),
            dims: e["dims"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .collect(),
            input: floats(&e["input"]),
            decoded: floats(&e["decoded"]),
        })
        .collect()
}

#[test]
fn tensors_fixture_decodes_like_gguf_py() {
    let f = GgufFile::open(fixture("tensors.gguf")).unwrap();
    let exp = expected();
    assert_eq!(exp.len(), 7);
    for e in &exp {
        let t = f.expect_shape(&e.name, &e.dims).unwrap();
        assert_eq!(t.ggml_type().name(), e.ty, "{}", e.name);
        let got = t.to_f32().unwrap();
        assert_eq!(got.len(), e.decoded.len());
        for (i, (g, x)) in got.iter().zip(&e.decoded).enumerate() {
            assert_eq!(g.to_bits(), x.to_bits(), "{} [{i}]: {g} vs {x}", e.name);
        }
        if e.ty.starts_with("TQ") {
            let m = ternary_rows(&t).unwrap();
            assert_eq!((m.rows as u64, m.cols as u64), (e.dims[1], e.dims[0]));
            assert!(m.values.iter().all(|v| (-1..=1).contains(v)));
            assert_eq!(m.dequantize(), got, "{}", e.name);
            if e.name.contains("tern") {
                let gamma = half::f16::from_f32(0.0371).to_f32();
                assert_eq!(m.scale, TernaryScale::PerTensor(gamma), "{}", e.name);
                assert!(m.row(1).iter().all(|&v| v == 0));
                let back: Vec<f32> = m.values.iter().map(|&v| f32::from(v) * 0.0371).collect();
                assert_eq!(back, e.input, "{}", e.name);
            } else {
                assert!(
                    matches!(m.scale, TernaryScale::PerBlock { block_len: 256, .. }),
                    "{}",
                    e.name
                );
            }
        }
    }
}

#[test]
fn our_quantizers_match_gguf_py_bytes() {
    let f = GgufFile::open(fixture("tensors.gguf")).unwrap();
    for e in expected() {
        let t = f.tensor(&e.name).unwrap();
        let ours = encode_f32(&e.input, t.ggml_type()).unwrap();
        assert_eq!(ours, t.data(), "{} ({})", e.name, e.ty);
    }
}

// ---------------------------------------------------------------- round trips

fn ternary_values(n: usize, seed: u64) -> Vec<i8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % 3) as i8 - 1
        })
        .collect()
}

#[test]
fn writer_reader_round_trip_every_type() {
    let mut w = GgufWriter::with_architecture("bitnet-b1.58");
    w.set_alignment(64).unwrap();
    let all = [
        ("u8", MetadataValue::U8(7)),
        ("i8", MetadataValue::I8(-7)),
        ("u16", MetadataValue::U16(700)),
        ("i16", MetadataValue::I16(-700)),
        ("u32", MetadataValue::U32(70000)),
        ("i32", MetadataValue::I32(-70000)),
        ("f32", MetadataValue::F32(0.25)),
        ("bool", MetadataValue::Bool(false)),
        ("str", MetadataValue::String("ok".into())),
        ("u64", MetadataValue::U64(1 << 40)),
        ("i64", MetadataValue::I64(-(1 << 40))),
        ("f64", MetadataValue::F64(1e100)),
        (
            "vocab",
            MetadataValue::Array(MetadataArray::String(
                (0..1000).map(|i| format!("tok{i}")).collect(),
            )),
        ),
        (
            "nested",
            MetadataValue::Array(MetadataArray::Array(vec![MetadataArray::F32(vec![1.0])])),
        ),
    ];
    for (k, v) in &all {
        w.add(k, v.clone()).unwrap();
    }
    assert!(
        w.add("u8", MetadataValue::U8(1)).is_err(),
        "duplicate key accepted"
    );
    let f32s: Vec<f32> = (0..24).map(|i| i as f32 * 0.37 - 3.0).collect();
    w.add_f32_tensor("f32", &[8, 3], &f32s, GgmlType::F32)
        .unwrap();
    w.add_f32_tensor("f16", &[8, 3], &f32s, GgmlType::F16)
        .unwrap();
    w.add_f32_tensor("bf16", &[8, 3], &f32s, GgmlType::BF16)
        .unwrap();
    let tern = ternary_values(2 * 512, 1);
    for ty in [GgmlType::TQ1_0, GgmlType::TQ2_0, GgmlType::I2S] {
        w.add_ternary_tensor(&ty.name(), &[512, 2], &tern, 0.125, ty)
            .unwrap();
    }
    assert!(
        w.add_f32_tensor("f32", &[24], &f32s, GgmlType::F32)
            .is_err(),
        "duplicate tensor accepted"
    );
    let path = std::env::temp_dir().join(format!("lutcore-gguf-rt-{}.gguf", std::process::id()));
    w.write(&path).unwrap();
    let f = GgufFile::open(&path).unwrap();
    std::fs::remove_file(&path).ok();

    assert_eq!(f.alignment(), 64);
    assert!(f.is_bitnet_fork());
    for (k, v) in &all {
        assert_eq!(f.get(k), Some(v), "{k}");
    }
    for t in f.tensor_infos() {
        assert_eq!(t.offset % 64, 0, "{}", t.name);
    }
    assert_eq!(f.tensor("f32").unwrap().to_f32().unwrap(), f32s);
    let f16s: Vec<f32> = f32s
        .iter()
        .map(|&v| half::f16::from_f32(v).to_f32())
        .collect();
    assert_eq!(f.tensor("f16").unwrap().to_f32().unwrap(), f16s);
    let bf16s: Vec<f32> = f32s
        .iter()
        .map(|&v| half::bf16::from_f32(v).to_f32())
        .collect();
    assert_eq!(f.tensor("bf16").unwrap().to_f32().unwrap(), bf16s);
    for name in ["TQ1_0", "TQ2_0", "I2_S"] {
        let t = f.expect_shape(name, &[512, 2]).unwrap();
        let m = t.to_ternary().unwrap();
        assert_eq!((m.rows, m.cols), (2, 512));
        assert_eq!(m.values, tern, "{name}");
        assert_eq!(m.per_tensor_scale(), Some(0.125), "{name}");
        assert_eq!(
            m.to_weight_matrix().unwrap().value(1, 3),
            i32::from(tern[512 + 3])
        );
    }
    assert_eq!(f.tensor("I2_S").unwrap().ggml_type(), GgmlType::I2S);
}

#[test]
fn i2s_layout_is_bitnet_cpp_x86() {
    // Weight j of a 128-block sits in byte j % 32 at bits 6 - 2*(j / 32).
    let mut v = vec![0i8; 256];
    v[0] = 1; // byte 0, bits 7:6 = code 2
    v[33] = -1; // byte 1, bits 5:4 = code 0
    v[127] = 1; // byte 31, bits 1:0 = code 2
    v[128 + 64] = -1; // block 1 byte 0, bits 3:2 = code 0
    let bytes = encode_ternary(&v, 2.5, GgmlType::I2S).unwrap();
    assert_eq!(bytes.len(), 64 + 32);
    assert_eq!(bytes[0], 0b10_01_01_01);
    assert_eq!(bytes[1], 0b01_00_01_01);
    assert_eq!(bytes[31], 0b01_01_01_10);
    assert_eq!(bytes[32], 0b01_01_00_01);
    assert_eq!(bytes[64..68], 2.5f32.to_le_bytes());
    // The reference quantizer (sign with a 1e-6 dead zone, scale = max|x|) agrees.
    let x: Vec<f32> = v.iter().map(|&t| f32::from(t) * 2.5).collect();
    assert_eq!(encode_f32(&x, GgmlType::I2S).unwrap()[..68], bytes[..68]);
}

#[test]
fn type_36_is_i2s_only_for_bitnet() {
    let tern = ternary_values(128, 3);
    for (arch, want) in [("bitnet", GgmlType::I2S), ("llama", GgmlType::Other(36))] {
        let mut w = GgufWriter::with_architecture(arch);
        w.add_ternary_tensor("w", &[128], &tern, 1.0, GgmlType::I2S)
            .unwrap();
        let f = parse(w.to_bytes()).unwrap();
        let t = f.tensor("w").unwrap();
        assert_eq!(t.ggml_type(), want, "{arch}");
        if want != GgmlType::I2S {
            // Unknown size: the view runs to the end of the file, decoding is refused.
            assert!(t.data().len() >= 32 + 32);
            let e = ternary_rows(&t).unwrap_err();
            assert!(
                matches!(e, GgufError::UnsupportedType { .. }) && e.to_string().contains("`w`"),
                "{e}"
            );
        }
    }
}

#[test]
fn unknown_and_upstream_types_read_raw() {
    let mut w = GgufWriter::new();
    w.add_raw_tensor("q8", &[32, 2], GgmlType::Other(8), vec![7u8; 68])
        .unwrap();
    w.add_raw_tensor("mystery", &[5], GgmlType::Other(250), vec![1, 2, 3])
        .unwrap();
    w.add_f32_tensor("after", &[2], &[1.0, 2.0], GgmlType::F32)
        .unwrap();
    let f = parse(w.to_bytes()).unwrap();
    let q8 = f.tensor("q8").unwrap();
    assert_eq!(
        (q8.ggml_type().name().as_str(), q8.data().len()),
        ("Q8_0", 68)
    );
    let e = q8.to_f32().unwrap_err();
    assert!(
        e.to_string().contains("Q8_0") && e.to_string().contains("`q8`"),
        "{e}"
    );
    let m = f.tensor("mystery").unwrap();
    assert_eq!(&m.data()[..3], &[1, 2, 3]);
    assert_eq!(m.data().len(), 32, "unknown size runs to the next tensor");
    assert_eq!(f.tensor("after").unwrap().to_f32().unwrap(), [1.0, 2.0]);
}

// ---------------------------------------------------------------- corrupt files

/// A little-endian byte builder for hand-made files.
#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    fn header(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        let mut r = Raw(b"GGUF".to_vec());
        r.u32(version).u64(n_tensors).u64(n_kv);
        r
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        dims.iter().for_each(|&d| {
            self.u64(d);
        });
        self.u32(ty).u64(offset)
    }
    fn pad_to(&mut self, n: usize) -> &mut Self {
        self.0.resize(n, 0);
        self
    }
}

fn small_file() -> Vec<u8> {
    let mut w = GgufWriter::with_architecture("bitnet");
    w.add_str("general.name", "tiny").unwrap();
    w.add_array(
        "tokenizer.ggml.tokens",
        MetadataArray::String(vec!["a".into(), "bb".into()]),
    )
    .unwrap();
    w.add_f32_tensor("norm", &[4], &[1.0, 2.0, 3.0, 4.0], GgmlType::F32)
        .unwrap();
    w.add_ternary_tensor(
        "w2",
        &[256, 2],
        &ternary_values(512, 9),
        0.5,
        GgmlType::TQ2_0,
    )
    .unwrap();
    w.add_ternary_tensor("w1", &[256], &ternary_values(256, 8), 0.5, GgmlType::TQ1_0)
        .unwrap();
    w.add_ternary_tensor("wi", &[128, 2], &ternary_values(256, 7), 0.5, GgmlType::I2S)
        .unwrap();
    w.to_bytes()
}

fn msg(r: Result<GgufFile, GgufError>) -> (GgufError, String) {
    let e = r.expect_err("corrupt file accepted");
    let m = e.to_string();
    assert!(m.contains("mem.gguf"), "error does not name the file: {m}");
    (e, m)
}

#[test]
fn bad_magic_and_version() {
    let mut b = small_file();
    b[0] = b'X';
    let (e, _) = msg(parse(b));
    assert!(matches!(e, GgufError::BadMagic { .. }));
    let (e, _) = msg(parse(b"GG".to_vec()));
    assert!(matches!(e, GgufError::BadMagic { .. }));
    let mut b = small_file();
    b[4..8].copy_from_slice(&1u32.to_le_bytes());
    let (e, m) = msg(parse(b));
    assert!(
        matches!(e, GgufError::UnsupportedVersion { version: 1, .. }),
        "{m}"
    );
    let mut b = small_file();
    b[4..8].copy_from_slice(&3u32.to_be_bytes());
    let (_, m) = msg(parse(b));
    assert!(m.contains("big-endian"), "{m}");
}

#[test]
fn truncation_errors_name_the_part() {
    let full = small_file();
    let f = parse(full.clone()).unwrap();
    let wi_name = full.windows(2).position(|w| w == b"wi").unwrap();
    let cases = [
        (10, "header tensor count"),
        (30, "key of metadata entry 0"),
        (60, "metadata key `general.architecture`"),
        (wi_name + 6, "dimensions of tensor `wi`"),
        (f.data_offset() as usize + 10, "data of tensor `norm`"),
        (full.len() - 40, "data of tensor `wi`"),
    ];
    for (cut, want) in cases {
        let (e, m) = msg(parse(full[..cut].to_vec()));
        assert!(matches!(e, GgufError::Truncated { .. }), "cut {cut}: {m}");
        assert!(m.contains(want), "cut {cut}: want {want:?} in {m}");
    }
}

#[test]
fn absurd_counts_error_without_allocating() {
    let huge = 1u64 << 60;
    let (e, m) = msg(parse(Raw::header(3, huge, 0).0));
    assert!(
        matches!(e, GgufError::AbsurdCount { count, .. } if count == huge),
        "{m}"
    );
    let (e, m) = msg(parse(Raw::header(3, 0, huge).0));
    assert!(
        matches!(e, GgufError::AbsurdCount { .. }) && m.contains("metadata key count"),
        "{m}"
    );
    let mut r = Raw::header(3, 0, 1);
    r.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(huge);
    let (e, m) = msg(parse(r.0));
    assert!(
        matches!(e, GgufError::AbsurdCount { .. }) && m.contains("`tokenizer.ggml.tokens`"),
        "{m}"
    );
    let mut r = Raw::header(3, 0, 1);
    r.str("k").u32(8).u64(huge);
    let (e, m) = msg(parse(r.0));
    assert!(
        matches!(e, GgufError::Truncated { .. }) && m.contains("`k`"),
        "{m}"
    );
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[huge, huge], 0, 0);
    let (e, m) = msg(parse(r.0));
    assert!(
        matches!(e, GgufError::BadTensorInfo { .. }) && m.contains("overflows"),
        "{m}"
    );
}

#[test]
fn structural_errors() {
    // Misaligned tensor offset.
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[4], 0, 8).pad_to(64 + 32 + 16);
    let (e, m) = msg(parse(r.0));
    assert!(
        matches!(
            e,
            GgufError::Misaligned {
                offset: 8,
                alignment: 32,
                ..
            }
        ) && m.contains("`t`"),
        "{m}"
    );
    // Duplicate tensor names.
    let mut r = Raw::header(3, 2, 0);
    r.tensor("t", &[4], 0, 0)
        .tensor("t", &[4], 0, 32)
        .pad_to(256);
    let (e, _) = msg(parse(r.0));
    assert!(matches!(e, GgufError::DuplicateTensor { ref tensor, .. } if tensor == "t"));
    // Duplicate keys.
    let mut r = Raw::header(3, 0, 2);
    r.str("a").u32(4).u32(1).str("a").u32(4).u32(2);
    let (e, _) = msg(parse(r.0));
    assert!(matches!(e, GgufError::DuplicateKey { ref key, .. } if key == "a"));
    // Unknown value type.
    let mut r = Raw::header(3, 0, 1);
    r.str("a").u32(13).u32(1);
    let (e, m) = msg(parse(r.0));
    assert!(
        matches!(e, GgufError::BadValueType { type_id: 13, .. }) && m.contains("`a`"),
        "{m}"
    );
    // Bad alignment.
    let mut r = Raw::header(3, 0, 1);
    r.str("general.alignment").u32(4).u32(48);
    let (e, _) = msg(parse(r.0));
    assert!(matches!(e, GgufError::BadAlignment { value: 48, .. }));
    // Too many dimensions.
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[1, 1, 1, 1, 1], 0, 0);
    let (e, _) = msg(parse(r.0));
    assert!(matches!(e, GgufError::BadTensorInfo { .. }));
    // Row length not a multiple of the block size.
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[100], 35, 0).pad_to(512);
    let (e, m) = msg(parse(r.0));
    assert!(
        matches!(e, GgufError::BadTensorInfo { .. }) && m.contains("multiple of 256"),
        "{m}"
    );
    // Invalid UTF-8 in a key.
    let mut r = Raw::header(3, 0, 1);
    r.u64(2);
    r.0.extend_from_slice(&[0xff, 0xfe]);
    r.u32(0);
    r.0.push(1);
    let (e, _) = msg(parse(r.0));
    assert!(matches!(e, GgufError::InvalidUtf8 { .. }));
}

#[test]
fn non_ternary_codes_are_errors() {
    // TQ2_0 byte 0xff: four codes 3.
    let mut data = vec![0x55u8; 66];
    data[0] = 0xff;
    let mut w = GgufWriter::new();
    w.add_raw_tensor("w", &[256], GgmlType::TQ2_0, data)
        .unwrap();
    let f = parse(w.to_bytes()).unwrap();
    let t = f.tensor("w").unwrap();
    let e = ternary_rows(&t).unwrap_err();
    assert!(
        matches!(e, GgufError::BadTensorData { .. }) && e.to_string().contains("code 3"),
        "{e}"
    );
    assert_eq!(
        t.to_f32().unwrap().len(),
        256,
        "dequantization follows ggml (value 2)"
    );
    // I2_S code 3.
    let mut w = GgufWriter::with_architecture("bitnet");
    w.add_raw_tensor("w", &[128], GgmlType::I2S, vec![0xff; 64])
        .unwrap();
    let f = parse(w.to_bytes()).unwrap();
    let e = ternary_rows(&f.tensor("w").unwrap()).unwrap_err();
    assert!(
        e.to_string().contains("I2_S") && e.to_string().contains("`w`"),
        "{e}"
    );
    // F32 tensor asked for ternary.
    let f = parse(small_file()).unwrap();
    let e = ternary_rows(&f.tensor("norm").unwrap()).unwrap_err();
    assert!(
        matches!(e, GgufError::UnsupportedType { .. }) && e.to_string().contains("F32"),
        "{e}"
    );
}

#[test]
fn writer_rejects_bad_input() {
    let mut w = GgufWriter::new();
    assert!(w
        .add_f32_tensor("t", &[100], &[0.0; 100], GgmlType::TQ2_0)
        .is_err());
    assert!(w
        .add_f32_tensor("t", &[4], &[0.0; 3], GgmlType::F32)
        .is_err());
    assert!(w
        .add_ternary_tensor("t", &[256], &[2; 256], 1.0, GgmlType::TQ1_0)
        .is_err());
    assert!(w
        .add_raw_tensor("t", &[4], GgmlType::F32, vec![0; 15])
        .is_err());
    assert!(w.set_alignment(48).is_err());
}

// ---------------------------------------------------------------- fuzz

/// Parse, and if that works decode every tensor every way; must never panic.
fn exercise(bytes: Vec<u8>) {
    if let Ok(f) = parse(bytes) {
        for info in f.tensor_infos() {
            if let Ok(t) = f.tensor(&info.name) {
                let _ = t.to_f32();
                let _ = ternary_rows(&t);
            }
        }
        for (k, _) in f.metadata() {
            let _ = (f.get_u32(k), f.get_str(k), f.get_str_array(k), f.get_f32(k));
        }
    }
}

#[test]
fn fuzz_truncations_and_bit_flips_never_panic() {
    let mut inputs = vec![small_file()];
    for name in ["metadata.gguf", "tensors.gguf"] {
        inputs.push(std::fs::read(fixture(name)).unwrap());
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for base in inputs {
        for cut in 0..base.len() {
            exercise(base[..cut].to_vec());
        }
        for _ in 0..3000 {
            let mut b = base.clone();
            for _ in 0..1 + rand() % 3 {
                let at = (rand() % b.len() as u64) as usize;
                b[at] ^= 1 << (rand() % 8);
            }
            exercise(b);
        }
        // Whole-byte overwrites of the header and the count / length fields.
        for at in 0..base.len().min(400) {
            for v in [0x00, 0x7f, 0x80, 0xff] {
                let mut b = base.clone();
                b[at] = v;
                exercise(b);
            }
        }
    }
}

// ---------------------------------------------------------------- issue 14 regressions

#[test]
fn a_directory_or_fifo_is_not_a_gguf_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = GgufFile::open(dir.path()).unwrap_err();
    assert!(matches!(e, GgufError::NotAFile { .. }), "{e}");
    assert!(
        e.to_string().contains("is a directory") && e.to_string().contains(".gguf model file"),
        "{e}"
    );
    // A FIFO would block an open(2) until a writer comes: refused before opening.
    let fifo = dir.path().join("fifo");
    if std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let e = GgufFile::open(&fifo).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}

#[test]
fn writer_copy_of_round_trips_and_edits() {
    let f = parse(small_file()).unwrap();
    let mut w = GgufWriter::copy_of(&f).unwrap();
    assert_eq!(
        w.to_bytes(),
        small_file(),
        "an unedited copy is byte-identical"
    );
    w.set("general.name", MetadataValue::String("edited".into()))
        .unwrap();
    w.set("new.key", MetadataValue::U32(7)).unwrap();
    assert!(w.remove("tokenizer.ggml.tokens") && !w.remove("tokenizer.ggml.tokens"));
    w.replace_tensor(
        "norm",
        &[2],
        GgmlType::F32,
        [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    )
    .unwrap();
    assert!(
        w.replace_tensor("norm", &[3], GgmlType::F32, vec![0; 4])
            .is_err(),
        "3 f32 need 12 bytes"
    );
    assert!(w
        .replace_tensor("absent", &[1], GgmlType::F32, vec![0; 4])
        .is_err());
    let g = parse(w.to_bytes()).unwrap();
    assert_eq!(g.get_str("general.name").unwrap(), "edited");
    assert_eq!(g.get_u32("new.key").unwrap(), 7);
    assert!(g.get("tokenizer.ggml.tokens").is_none());
    assert_eq!(g.tensor("norm").unwrap().to_f32().unwrap(), [1.5, -2.0]);
    let names: Vec<&str> = g.tensor_infos().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["norm", "w2", "w1", "wi"],
        "the replaced tensor keeps its place"
    );
}

/// The probe's abort: `bitnet.block_count = 10^9` made the loader reserve
/// 10^9 layers (432 GB) before looking for their tensors.
#[test]
fn regression_block_count_1e9_refused_before_reserving_layers() {
    use lutcore_sw::backend::RefBackend;
    use lutcore_sw::model::synth::{write_model, SynthShape};
    use lutcore_sw::model::Model;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let mut shape = SynthShape::named("tiny").unwrap();
    shape.vocab = 16;
    shape.layers = 1;
    write_model(&shape, None, 1, &path, |_, _| {}).unwrap();
    let f = GgufFile::open(&path).unwrap();
    let mut w = GgufWriter::copy_of(&f).unwrap();
    w.set("bitnet.block_count", MetadataValue::U32(1_000_000_000))
        .unwrap();
    let g = parse(w.to_bytes()).unwrap();
    let e = Model::from_gguf(&g, &RefBackend, |_, _| {})
        .err()
        .expect("accepted")
        .to_string();
    // 13 tensors: token_embd, output_norm and 11 for the one real layer.
    assert!(
        e.contains("mem.gguf")
            && e.contains("bitnet.block_count = 1000000000")
            && e.contains("holds 13 tensors"),
        "{e}"
    );
}
