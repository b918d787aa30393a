// The benchmark traffic, shared by bench/gen.js (WebSocket over HTTP/1.1 and TLS) and
// bench/gen-h2.js (over HTTP/2 streams), so both send exactly the same messages: a seeded PRNG,
// JSON-like text messages of a given size, and the sizes a connection sends.
'use strict';

// mulberry32: small, fast, and the same sequence for the same seed on every run.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ('alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike ' +
  'november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu ' +
  'price volume bid ask trade order user session event status ok error pending filled').split(' ');
const PAD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

// A JSON-like text message of exactly `len` bytes (ASCII), varied content.
function jsonMsg(r, conn, dir, seq, len) {
  let s = `{"conn":${conn},"dir":"${dir}","seq":${seq},"ts":${Date.now()},"sym":"${WORDS[(r() * WORDS.length) | 0]}",` +
    `"px":${(r() * 1000).toFixed(4)},"qty":${(r() * 1e6) | 0},"note":"`;
  const tail = '"}';
  // fill with words (compressible, but not trivially) and random characters
  while (s.length + tail.length < len) {
    if (r() < 0.7) s += WORDS[(r() * WORDS.length) | 0] + ' ';
    else s += PAD[(r() * PAD.length) | 0];
  }
  s = s.slice(0, len - tail.length) + tail;
  return s;
}

// The message sizes one direction of a connection sends in mode `M` (seeded).
function plan(seed, M) {
  const r = rng(seed);
  const sizes = [];
  let total = 0;
  while (total < M.perDirBytes) {
    const n = M.min + Math.floor(r() * (M.max - M.min + 1));
    sizes.push(n);
    total += n;
  }
  return sizes;
}

module.exports = { rng, jsonMsg, plan };
