-- Managed by stacklab: Neutron's database and account (replicated by Galera).
CREATE DATABASE IF NOT EXISTS neutron;
CREATE USER IF NOT EXISTS 'neutron'@'10.50.0.0/255.255.255.0' IDENTIFIED BY 'EXAMPLEdbPassword00000000000000';
ALTER USER 'neutron'@'10.50.0.0/255.255.255.0' IDENTIFIED BY 'EXAMPLEdbPassword00000000000000';
GRANT ALL PRIVILEGES ON neutron.* TO 'neutron'@'10.50.0.0/255.255.255.0';
