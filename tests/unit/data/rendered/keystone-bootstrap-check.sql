-- Managed by stacklab: how many of the 5 facts `keystone-manage bootstrap` makes hold
-- (admin user and project in the Default domain, 3 identity endpoints at the VIP name).
SELECT
  (SELECT COUNT(*) FROM keystone.local_user WHERE name = 'admin' AND domain_id = 'default')
+ (SELECT COUNT(*) FROM keystone.project WHERE name = 'admin' AND domain_id = 'default')
+ (SELECT COUNT(*) FROM keystone.endpoint e JOIN keystone.service s ON s.id = e.service_id
     WHERE s.type = 'identity' AND e.url = 'https://api.demo.stacklab:5000/v3' AND e.region_id = 'RegionOne'
     AND e.interface IN ('public', 'internal', 'admin'));
