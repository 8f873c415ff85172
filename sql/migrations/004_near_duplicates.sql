-- MinHash near-duplicate index (pipeline/neardup.py), so every new article is compared with every article ever
-- loaded, not only with its batch.
-- minhash_signatures: one row per indexed article. shingles = distinct 5-token shingles of the folded body (used to
-- estimate containment); signature = 128 little-endian uint32 minima (fixed seed: never change it in place).
-- minhash_bands: one row per (LSH band key, article). A key hashes one band of a signature together with the band
-- layout, so indexes opened with different layouts never see each other's keys. Looked up by key through the ART
-- index; no primary key because the loader de-duplicates by article_id before inserting.

CREATE TABLE IF NOT EXISTS minhash_signatures (
    article_id  VARCHAR PRIMARY KEY,
    shingles    INTEGER NOT NULL,
    signature   BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS minhash_bands (
    band_key    BIGINT NOT NULL,
    article_id  VARCHAR NOT NULL
);

CREATE INDEX IF NOT EXISTS minhash_bands_key ON minhash_bands (band_key);
