-- Managed by stacklab: Keystone's database and account (replicated by Galera).
CREATE DATABASE IF NOT EXISTS keystone;
CREATE USER IF NOT EXISTS 'keystone'@'10.40.0.0/255.255.255.0' IDENTIFIED BY 'EXAMPLEdbPassword00000000000000';
ALTER USER 'keystone'@'10.40.0.0/255.255.255.0' IDENTIFIED BY 'EXAMPLEdbPassword00000000000000';
GRANT ALL PRIVILEGES ON keystone.* TO 'keystone'@'10.40.0.0/255.255.255.0';
