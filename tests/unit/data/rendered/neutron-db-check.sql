-- Managed by stacklab: how many of the 3 facts of Neutron's database and account hold.
SELECT
  (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'neutron')
+ (SELECT COUNT(*) FROM mysql.user WHERE User = 'neutron' AND Host = '10.50.0.0/255.255.255.0'
     AND authentication_string = PASSWORD('EXAMPLEdbPassword00000000000000'))
+ (SELECT COUNT(*) FROM mysql.db WHERE User = 'neutron' AND Host = '10.50.0.0/255.255.255.0' AND Db = 'neutron'
     AND Select_priv = 'Y' AND Insert_priv = 'Y' AND Create_priv = 'Y' AND Alter_priv = 'Y'
     AND Drop_priv = 'Y' AND Index_priv = 'Y' AND References_priv = 'Y');
