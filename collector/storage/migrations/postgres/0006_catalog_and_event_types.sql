-- The product catalog, built from traffic, and the property keys seen per event name.
-- Keys that lists sort or page by are COLLATE "C": byte order, as SQLite compares text,
-- whatever the database's locale.
CREATE TABLE products (
    product_id TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT,
    price      DOUBLE PRECISION,
    category   TEXT,
    brand      TEXT,
    url        TEXT,
    image_url  TEXT,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);

CREATE TABLE product_variants (
    product_id TEXT COLLATE "C" NOT NULL REFERENCES products (product_id),
    variant_id TEXT COLLATE "C" NOT NULL,
    variant    TEXT,
    sku        TEXT,
    PRIMARY KEY (product_id, variant_id)
);

CREATE TABLE event_keys (
    event TEXT COLLATE "C" NOT NULL,
    key   TEXT COLLATE "C" NOT NULL,
    type  TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (event, key, type)
);
