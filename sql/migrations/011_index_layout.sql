-- The LSH band layout the stored band keys were made with. A near-duplicate threshold low enough to need another
-- layout would stop every stored article from matching, so the loader refuses it until `news reindex` has
-- rebuilt the band keys from the stored signatures. Every store so far was banded 42 × 3 (threshold 0.8).
CREATE TABLE index_layout (
    name   VARCHAR PRIMARY KEY,
    bands  INTEGER NOT NULL,
    "rows" INTEGER NOT NULL
);
INSERT INTO index_layout VALUES ('minhash_bands', 42, 3);
