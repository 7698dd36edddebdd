-- Managed by stacklab: how many of the 8 expected account facts hold.
SELECT
  (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'stacklab')
+ (SELECT COUNT(*) FROM mysql.user WHERE User = 'stacklab' AND Host = '10.40.0.0/255.255.255.0'
     AND authentication_string = PASSWORD('EXAMPLEappPassword0000000000000'))
+ (SELECT COUNT(*) FROM mysql.db WHERE User = 'stacklab' AND Host = '10.40.0.0/255.255.255.0' AND Db = 'stacklab'
     AND Select_priv = 'Y' AND Create_priv = 'Y' AND Alter_priv = 'Y' AND Drop_priv = 'Y')
+ (SELECT COUNT(*) FROM mysql.user WHERE User = 'haproxy' AND authentication_string = ''
     AND Host IN ('10.40.0.10', '10.40.0.11', '10.40.0.12', '10.40.0.5'))
+ (SELECT COUNT(*) FROM mysql.user WHERE User = 'sst' AND Host = 'localhost'
     AND authentication_string = PASSWORD('EXAMPLEsstPassword0000000000000')
     AND Reload_priv = 'Y' AND Process_priv = 'Y' AND Lock_tables_priv = 'Y' AND Repl_client_priv = 'Y');
