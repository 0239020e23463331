-- A rectification order is an official document (整改通知书) with a number (文号): one gapless
-- sequence per district office and year (China time), taken in the transaction that makes the
-- order. Orders made before numbering get theirs now, in the order they were made.
CREATE TABLE order_numbers (
    district_code   text NOT NULL,
    year            integer NOT NULL,
    last_seq        integer NOT NULL,
    PRIMARY KEY (district_code, year)
);
ALTER TABLE rectification_orders ADD COLUMN doc_year integer, ADD COLUMN doc_seq integer;
WITH numbered AS (
    SELECT order_id,
           extract(year FROM ordered_at AT TIME ZONE 'Asia/Shanghai')::integer AS y,
           row_number() OVER (
               PARTITION BY district_code,
                            extract(year FROM ordered_at AT TIME ZONE 'Asia/Shanghai')
               ORDER BY ordered_at, order_id) AS n
      FROM rectification_orders
)
UPDATE rectification_orders o SET doc_year = numbered.y, doc_seq = numbered.n
  FROM numbered WHERE o.order_id = numbered.order_id;
INSERT INTO order_numbers (district_code, year, last_seq)
SELECT district_code, doc_year, max(doc_seq) FROM rectification_orders GROUP BY 1, 2;
ALTER TABLE rectification_orders ALTER COLUMN doc_year SET NOT NULL,
                                 ALTER COLUMN doc_seq SET NOT NULL;
CREATE UNIQUE INDEX rectification_orders_number
    ON rectification_orders (district_code, doc_year, doc_seq);
