-- An order belongs to the enterprise and district it was issued to, even if the project is later
-- handed to another enterprise: the new one must not see the old one's evidence.
ALTER TABLE rectification_orders ADD COLUMN enterprise_id text;
ALTER TABLE rectification_orders ADD COLUMN enterprise_name text;
ALTER TABLE rectification_orders ADD COLUMN district_code text;
UPDATE rectification_orders o
   SET enterprise_id = p.enterprise_id, enterprise_name = p.enterprise_name,
       district_code = p.district_code
  FROM projects p
 WHERE p.project_id = o.project_id;
ALTER TABLE rectification_orders ALTER COLUMN enterprise_id SET NOT NULL;
ALTER TABLE rectification_orders ALTER COLUMN enterprise_name SET NOT NULL;
ALTER TABLE rectification_orders ALTER COLUMN district_code SET NOT NULL;
CREATE INDEX rectification_orders_enterprise ON rectification_orders (enterprise_id);
CREATE INDEX rectification_orders_district ON rectification_orders (district_code);
