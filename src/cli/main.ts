console.log('sqz');
